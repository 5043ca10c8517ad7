"""A phone bot built the way pipecat's own telephony examples build one, as a system under test:
Twilio Media Streams through pipecat's ``TwilioFrameSerializer`` over its FastAPI WebSocket
transport, and its OpenAI Realtime LLM service for the conversation, pointed at the fake
upstream. Nothing here is ours but the wiring; the behaviour under test is pipecat's.

Run as a script (the test does, so the bot has its own process and event loop, as in a real
deployment): ``pipecat_bot.py UPSTREAM_WS_URL [--greet]``. The upstream's API key comes from
``OPENAI_API_KEY``. It binds 127.0.0.1 on a port the kernel picks and prints ``PORT <n>`` once
it listens. The serializer's auto hang-up is off, so it never calls Twilio's REST API.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

import uvicorn
from fastapi import FastAPI, WebSocket
from loguru import logger
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.openai.realtime import events
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

TWILIO_RATE = 8000
SILENCE_DURATION_MS = 500


def build_app(upstream_url: str, api_key: str, *, greet: bool) -> FastAPI:
    app = FastAPI()

    @app.websocket("/media-stream")
    async def media_stream(websocket: WebSocket) -> None:
        await websocket.accept()
        _, call = await parse_telephony_websocket(websocket)
        serializer = TwilioFrameSerializer(
            stream_sid=call["stream_id"],
            call_sid=call["call_id"],
            params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
        )
        transport = FastAPIWebsocketTransport(
            websocket,
            FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                add_wav_header=False,
                serializer=serializer,
            ),
        )
        llm = OpenAIRealtimeLLMService(
            api_key=api_key,
            base_url=upstream_url,
            settings=OpenAIRealtimeLLMService.Settings(
                model="gpt-realtime",
                system_instruction="You answer the phone for a dental practice. Be brief.",
                session_properties=events.SessionProperties(
                    audio=events.AudioConfiguration(
                        input=events.AudioInput(
                            turn_detection=events.TurnDetection(
                                silence_duration_ms=SILENCE_DURATION_MS
                            )
                        ),
                        output=events.AudioOutput(voice="marin"),
                    )
                ),
            ),
        )
        context = LLMContext()
        user, assistant = LLMContextAggregatorPair(context)
        pipeline = Pipeline([transport.input(), user, llm, transport.output(), assistant])
        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(
                audio_in_sample_rate=TWILIO_RATE, audio_out_sample_rate=TWILIO_RATE
            ),
            idle_timeout_secs=None,
        )

        @transport.event_handler("on_client_connected")  # type: ignore[untyped-decorator]
        async def on_connected(_transport: object, _client: object) -> None:
            if greet:
                await worker.queue_frames([LLMRunFrame()])

        @transport.event_handler("on_client_disconnected")  # type: ignore[untyped-decorator]
        async def on_disconnected(_transport: object, _client: object) -> None:
            await worker.cancel()

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()

    return app


async def serve(upstream_url: str, *, greet: bool) -> None:
    api_key = os.environ.get("OPENAI_API_KEY", "sk-local")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        build_app(upstream_url, api_key, greet=greet), log_level="warning", ws="websockets-sansio"
    )
    listener.listen(128)  # connections wait in the backlog until uvicorn accepts them
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    await uvicorn.Server(config).serve(sockets=[listener])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream_url")
    parser.add_argument("--greet", action="store_true", help="the bot speaks first")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("PIPECAT_LOG_LEVEL", "INFO"))
    asyncio.run(serve(args.upstream_url, greet=args.greet))


if __name__ == "__main__":
    main()
