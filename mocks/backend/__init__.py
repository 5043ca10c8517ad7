"""The mock voice backend: the system under test. An aiohttp server bridging phone calls (a native
JSON protocol and Twilio Media Streams) to an OpenAI-Realtime-style upstream, running tools against
Postgres, serving REST and webhooks, with knobs (``config.BackendConfig``) that switch real bugs on.
"""
