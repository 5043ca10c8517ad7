"""The fake OpenAI Realtime upstream: a sans-I/O session state machine (``session.py``: client
event in, timed server events out, no sockets and no clock) driven by a thin ``websockets`` adapter
(``connection.py``) that sleeps and sends, with seeded faults (``faults/``), an admin and metrics
port (``admin.py``) and ground-truth stats (``stats.py``). ``server.RealtimeServer`` ties them
together."""
