"""Runtimes that bring the stack up: local processes on loopback (default) or Docker Compose."""
