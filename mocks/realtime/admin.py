"""The upstream's admin port (loopback only): switch faults at run time and read the ground
truth. ``GET /health``, ``GET``/``PUT /admin/faults`` (400 with every problem at once; the body
replaces the whole document: handshake faults apply from the next upgrade, ``legacy_beta`` and
``session_max_duration`` from the next session, response faults from the next response),
``POST /admin/reset``, ``GET /admin/stats``, ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from mocks.errors import ConfigError
from mocks.realtime.faults import parse_faults

if TYPE_CHECKING:
    from mocks.realtime.server import RealtimeServer

SERVER: web.AppKey[RealtimeServer] = web.AppKey("server")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVER].faults.to_document())


async def put_faults(request: web.Request) -> web.Response:
    try:
        document = json.loads(await request.text())
    except ValueError:
        return web.json_response({"errors": ["body: not valid JSON"]}, status=400)
    try:
        faults = parse_faults(document, "faults")
    except ConfigError as exc:
        return web.json_response({"errors": exc.problems}, status=400)
    request.app[SERVER].set_faults(faults)
    return web.json_response(faults.to_document())


async def reset(request: web.Request) -> web.Response:
    request.app[SERVER].reset()
    return web.json_response({"status": "reset"})


async def stats(request: web.Request) -> web.Response:
    server = request.app[SERVER]
    document = server.stats.to_document()
    # How far ahead the sender wakes before a first delta: where a fixed latency arrives late,
    # this tells a late machine (a large head start) from a late fake.
    document["timer_head_start_ms"] = round(server.timers.learned_s * 1000, 3)
    return web.json_response(document)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVER].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_admin_app(server: RealtimeServer) -> web.Application:
    app = web.Application()
    app[SERVER] = server
    app.router.add_get("/health", health)
    app.router.add_get("/admin/faults", get_faults)
    app.router.add_put("/admin/faults", put_faults)
    app.router.add_post("/admin/reset", reset)
    app.router.add_get("/admin/stats", stats)
    app.router.add_get("/metrics", metrics)
    return app
