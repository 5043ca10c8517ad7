"""Loopback ports for tests: one free to listen on, and one nobody listens on."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port the kernel just handed out and released: free to bind (barring a race)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port with no listener: connecting to it is refused at once. (Bound and released
    without listen(), so nothing accepted on it in between.)"""
    return free_port()
