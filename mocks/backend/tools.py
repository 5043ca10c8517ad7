"""The assistant's tools: their declarations for the upstream session (``TOOLS``) and their
implementations against Postgres. Each runs in one transaction that holds its connection for a
realistic query time, so concurrent calls really need many connections at once (which is what
makes an oversized pool meet Postgres's max_connections)."""

from __future__ import annotations

import json
from typing import Any

from mocks.backend.db import Database

SLOTS = ("09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00")

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "check_availability",
        "description": "List the free appointment slots on a day for a service.",
        "parameters": {
            "type": "object",
            "properties": {
                "date": {"type": "string", "description": "The day, YYYY-MM-DD"},
                "service": {"type": "string", "description": "What the caller wants booked"},
            },
            "required": ["date"],
        },
    },
    {
        "type": "function",
        "name": "book_appointment",
        "description": "Book a slot for a customer identified by phone number.",
        "parameters": {
            "type": "object",
            "properties": {
                "customer_phone": {"type": "string"},
                "date": {"type": "string", "description": "YYYY-MM-DD"},
                "time": {"type": "string", "description": "HH:MM"},
            },
            "required": ["customer_phone", "date", "time"],
        },
    },
]


class ToolError(Exception):
    """The tool cannot run with these arguments (not a database failure)."""


def parse_arguments(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        raise ToolError("arguments are not JSON") from None
    if not isinstance(value, dict):
        raise ToolError("arguments are not a JSON object")
    return value


async def run_tool(db: Database, name: str, args: dict[str, Any], session_id: str) -> Any:
    """Run tool ``name``; raises ToolError for a bad call, DbUnavailable for the database."""
    if name == "check_availability":
        return await check_availability(db, str(args.get("date", "")), args.get("service"))
    if name == "book_appointment":
        return await book_appointment(
            db,
            str(args.get("customer_phone", "")),
            str(args.get("date", "")),
            str(args.get("time", "")),
            session_id,
        )
    raise ToolError(f"unknown tool {name!r}")


async def check_availability(db: Database, day: str, service: object) -> dict[str, Any]:
    if not day:
        raise ToolError("date is required")
    async with db.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_sleep($1)", db.config.db_query_ms / 1000.0)
        rows = await conn.fetch("SELECT slot FROM appointments WHERE day = $1", day)
    taken = {row["slot"] for row in rows}
    free = [slot for slot in SLOTS if slot not in taken]
    return {"date": day, "service": str(service or "consultation"), "available": free}


async def book_appointment(
    db: Database, phone: str, day: str, slot: str, session_id: str
) -> dict[str, Any]:
    if not (phone and day and slot):
        raise ToolError("customer_phone, date and time are required")
    async with db.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_sleep($1)", db.config.db_query_ms / 1000.0)
        customer_id = await conn.fetchval(
            "INSERT INTO customers (name, phone) VALUES ('Caller', $1) "
            "ON CONFLICT (phone) DO UPDATE SET phone = EXCLUDED.phone RETURNING id",
            phone,
        )
        appointment_id = await conn.fetchval(
            "INSERT INTO appointments (customer_id, day, slot, session_id) "
            "VALUES ($1, $2, $3, $4) RETURNING id",
            customer_id,
            day,
            slot,
            session_id,
        )
    return {"booked": True, "appointment_id": int(appointment_id), "date": day, "time": slot}
