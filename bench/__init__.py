"""The orchestrator: brings the stack up (local processes or Docker Compose), runs failure
drills, checks each is diagnosed, and hosts the `callbench` command."""
