"""What the conformance tests share besides fixtures: the fake upstream's script lengths, the
caller's audio, servers run as child processes (waited for with a deadline, never a bare sleep,
and always stopped), and the installed ``callbench`` command run as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from generator.audio import synth_speech
from mocks.realtime.server import RealtimeServer

# Short replies keep each test well under its timeout; the fake's VAD ends the turn after this
# much silence, as OpenAI's server VAD does with the same setting.
GREETING_MS = 300
ANSWER_MS = 600
SILENCE_MS = 500
API_KEY = "sk-conformance"  # what the fake upstream is told to demand; not a real key
CALLBENCH = Path(sys.executable).with_name("callbench")


def spoken_turn(speech_ms: int = 800, seed: int = 7, rate: int = 24_000) -> bytes:
    """PCM16 mono at ``rate``: synthetic speech, then line silence long enough for server VAD."""
    silence = bytes(2 * rate * (SILENCE_MS + 300) // 1000)
    return synth_speech(speech_ms, seed, rate) + silence


async def wait_for_port(
    port: int, within: float, alive: asyncio.subprocess.Process | None = None
) -> None:
    """Return once 127.0.0.1:``port`` accepts; fail after ``within`` s or if ``alive`` exits."""
    deadline = time.monotonic() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if alive is not None and alive.returncode is not None:
                raise AssertionError(f"the server exited with {alive.returncode}") from None
            if time.monotonic() > deadline:
                message = f"nothing listens on 127.0.0.1:{port} after {within} s"
                raise AssertionError(message) from None
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


def answered_once(server: RealtimeServer) -> None:
    """The fake's own record: one GA session, one completed answer, no error sent to it."""
    (session,) = server.stats.sessions
    assert not session.beta, "the client spoke the beta shape"
    assert session.errors_sent == 0, session.to_document()
    assert [(r.reply, r.status) for r in session.responses] == [("answer", "completed")], (
        session.to_document()
    )


def cancelled_responses(server: RealtimeServer) -> int:
    """How many responses the fake cancelled (a barge-in heard by its VAD, or the client's ask)."""
    return sum(r.status == "cancelled" for s in server.stats.sessions for r in s.responses)


@asynccontextmanager
async def child(
    argv: Sequence[str], log: Path, env: dict[str, str] | None = None, **kwargs: Any
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process with its stderr in ``log``; terminated (then killed) on the way out."""
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *argv, stderr=stderr, env=os.environ | (env or {}), **kwargs
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def callbench_calls(url: str, out: Path, *flags: str, within: float = 120) -> dict[str, Any]:
    """``callbench calls --protocol twilio --url URL --out OUT --json FLAGS``: its summary."""
    argv = [str(CALLBENCH), "calls", "--protocol", "twilio", "--url", url]
    argv += ["--out", str(out), "--json", "--no-monitor", "--seed", "15", *flags]
    async with child(argv, out.with_suffix(".stderr"), stdout=asyncio.subprocess.PIPE) as run:
        stdout, _ = await asyncio.wait_for(run.communicate(), within)
    errors = out.with_suffix(".stderr").read_text(errors="replace")[-3000:]
    assert run.returncode in (0, 1), (run.returncode, errors)  # 1: thresholds failed
    summary: dict[str, Any] = json.loads(stdout)
    summary["_exit_code"], summary["_stderr"] = run.returncode, errors
    return summary
