"""Twilio's form-encoded callbacks: ``POST /api/voice/conference-events`` and
``/api/voice/recording-status``. When ``twilio_auth_token`` is set, each must carry a valid
``X-Twilio-Signature`` over the URL Twilio called and its parameters; anything else gets 403."""

from __future__ import annotations

from aiohttp import web

from mocks.backend.keys import STATE_KEY
from mocks.backend.twilio_signature import is_valid


async def _verified_form(request: web.Request) -> list[tuple[str, str]] | None:
    """The POST parameters, or None when the signature is required and wrong."""
    form = await request.post()
    params = [(key, str(value)) for key, value in form.items()]
    token = request.app[STATE_KEY].config.twilio_auth_token
    if token is None:
        return params
    # Behind a proxy the URL Twilio signed is the public one; here the request URL is it.
    url = str(request.url)
    if not is_valid(token, url, params, request.headers.get("X-Twilio-Signature")):
        return None
    return params


def _forbidden() -> web.Response:
    return web.json_response({"error": "invalid_signature"}, status=403)


async def conference_events(request: web.Request) -> web.Response:
    params = await _verified_form(request)
    if params is None:
        return _forbidden()
    fields = dict(params)
    return web.json_response(
        {
            "received": True,
            "event": fields.get("StatusCallbackEvent", ""),
            "conference": fields.get("ConferenceSid", ""),
        }
    )


async def recording_status(request: web.Request) -> web.Response:
    params = await _verified_form(request)
    if params is None:
        return _forbidden()
    fields = dict(params)
    return web.json_response(
        {
            "received": True,
            "recording": fields.get("RecordingSid", ""),
            "status": fields.get("RecordingStatus", ""),
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/voice/conference-events", conference_events)
    app.router.add_post("/api/voice/recording-status", recording_status)
