"""The admin API, served on its own loopback-only port: ``GET``/``PUT /admin/config`` (a partial
JSON update, validated as a whole, every problem reported in a 400) and ``POST /admin/reset``.
Health, readiness and metrics are mirrored there so the stack can probe and scrape one port."""

from __future__ import annotations

from aiohttp import web

from mocks.backend import rest
from mocks.backend.config import updated
from mocks.backend.keys import STATE_KEY
from mocks.errors import ConfigError


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].config.model_dump())


async def put_config(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        changes = await request.json()
    except ValueError:
        return web.json_response({"errors": ["body must be a JSON object"]}, status=400)
    if not isinstance(changes, dict):
        return web.json_response({"errors": ["body must be a JSON object"]}, status=400)
    try:
        config = updated(state.config, changes)
    except ConfigError as exc:
        return web.json_response({"errors": exc.problems}, status=400)
    await state.apply(config)
    return web.json_response(config.model_dump())


async def reset(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    await state.reset()
    return web.json_response(state.config.model_dump())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/config", get_config)
    app.router.add_put("/admin/config", put_config)
    app.router.add_post("/admin/reset", reset)
    app.router.add_get("/health", rest.health)
    app.router.add_get("/health/ready", rest.ready)
    app.router.add_get("/healthz", rest.healthz)
    app.router.add_get("/debug/memory", rest.debug_memory)
    app.router.add_get("/metrics", rest.metrics)
