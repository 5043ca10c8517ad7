"""The backend's HTTP endpoints: health and readiness, pool and memory introspection, Prometheus
metrics, the call log (through the pool), and the bearer-token API a dashboard would use; plus
the middleware that rate-limits by endpoint class, counts requests and hides stack traces."""

from __future__ import annotations

import hmac
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import psutil
from aiohttp import web

from mocks.backend.db import DbUnavailable
from mocks.backend.keys import STATE_KEY
from mocks.backend.metrics import CONTENT_TYPE
from mocks.backend.ratelimit import endpoint_class, retry_after_header
from mocks.backend.state import BackendState

log = logging.getLogger(__name__)

CALL_LOGS_PER_PAGE = 20
ASSISTANTS = [
    {"id": "asst_reception", "name": "Clinic reception", "voice": "marin", "model": "gpt-realtime"},
    {"id": "asst_afterhours", "name": "After hours", "voice": "cedar", "model": "gpt-realtime"},
]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _state(request: web.Request) -> BackendState:
    return request.app[STATE_KEY]


def _client_key(request: web.Request) -> str:
    return request.remote or "unknown"


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limits, request counting, and errors as JSON without traces (unless the knob)."""
    state = _state(request)
    resource = request.match_info.route.resource
    endpoint = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        limit_class = endpoint_class(request.path)
        if limit_class is not None:
            name, window = limit_class
            limit = {
                "api": state.config.api_rate_per_min,
                "webhook": state.config.webhook_rate_per_min,
                "auth": state.config.auth_rate_per_15min,
            }[name]
            wait = state.limiter.hit(f"{name}:{_client_key(request)}", limit, window)
            if wait is not None:
                status = 429
                return web.json_response(
                    {"error": "rate_limited", "retry_after_s": round(wait, 3)},
                    status=429,
                    headers={"Retry-After": retry_after_header(wait)},
                )
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except DbUnavailable as exc:
        status = 503
        return error_response(state, exc, "db_unavailable", 503)
    except Exception as exc:
        log.exception("request failed: %s %s", request.method, request.path)
        return error_response(state, exc, "internal_error", 500)
    finally:
        state.metrics.http_requests_total.labels(endpoint=endpoint, status=str(status)).inc()


def error_response(state: BackendState, exc: BaseException, code: str, status: int) -> web.Response:
    body: dict[str, Any] = {"error": code}
    if state.config.expose_stack_traces:
        body["trace"] = "".join(traceback.format_exception(exc))
    return web.json_response(body, status=status)


def _authorized(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = _state(request).config.api_token
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), expected)


def _unauthorized() -> web.Response:
    return web.json_response(
        {"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
    )


async def root(request: web.Request) -> web.Response:
    return web.json_response({"service": "callbench mock voice backend", "status": "ok"})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    if await _state(request).db.ping():
        return web.json_response({"status": "ready", "database": "connected"})
    return web.json_response({"status": "not_ready", "database": "unavailable"}, status=503)


async def healthz(request: web.Request) -> web.Response:
    state = _state(request)
    size, idle, waiting = state.db.stats()
    return web.json_response(
        {
            "status": "ok",
            "activeCalls": state.admission.active,
            "poolStats": {"total": size, "idle": idle, "waiting": waiting},
        }
    )


async def debug_memory(request: web.Request) -> web.Response:
    state = _state(request)
    info = psutil.Process().memory_info()
    return web.json_response(
        {
            "rss_mb": round(info.rss / 2**20, 2),
            "vms_mb": round(info.vms / 2**20, 2),
            "leaked_transcripts": len(state.leaks.transcripts),
            "leaked_upstream_sockets": len(state.leaks.upstream_sockets),
        }
    )


async def metrics(request: web.Request) -> web.Response:
    state = _state(request)
    body = state.metrics.render(state.db.stats())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def call_logs(request: web.Request) -> web.Response:
    raw = request.query.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        return web.json_response(
            {"error": "bad_request", "message": "page must be >= 1"}, status=400
        )
    page = int(raw)
    total, rows = await _state(request).db.call_logs(page, CALL_LOGS_PER_PAGE)
    return web.json_response(
        {"page": page, "per_page": CALL_LOGS_PER_PAGE, "total": total, "calls": rows}
    )


async def assistants(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _unauthorized()
    return web.json_response({"assistants": ASSISTANTS})


async def calls_dashboard(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _unauthorized()
    state = _state(request)
    async with state.db.connection() as conn:
        rows = await conn.fetch(
            "SELECT coalesce(outcome, 'in_progress') AS outcome, count(*) AS n "
            "FROM call_sessions GROUP BY 1 ORDER BY 1"
        )
    return web.json_response(
        {
            "active_calls": state.admission.active,
            "by_outcome": {row["outcome"]: int(row["n"]) for row in rows},
        }
    )


async def vapi_webhook_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def login(request: web.Request) -> web.Response:
    """Exchange the API token for a session: the auth class of the rate limits guards it."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    token = body.get("token") if isinstance(body, dict) else None
    expected = _state(request).config.api_token
    if isinstance(token, str) and hmac.compare_digest(token, expected):
        return web.json_response({"ok": True})
    return web.json_response({"error": "unauthorized"}, status=401)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/health", health)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/debug/memory", debug_memory)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/call-logs", call_logs)
    app.router.add_get("/api/assistants", assistants)
    app.router.add_get("/api/calls-dashboard", calls_dashboard)
    app.router.add_get("/api/vapi/webhook/health", vapi_webhook_health)
    app.router.add_post("/api/auth/login", login)
