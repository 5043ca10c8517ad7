"""Typed aiohttp app keys shared by the backend's handlers."""

from __future__ import annotations

from aiohttp import web

from mocks.backend.state import BackendState

STATE_KEY: web.AppKey[BackendState] = web.AppKey("callbench_backend_state", BackendState)
