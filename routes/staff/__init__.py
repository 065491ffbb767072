"""The restaurant's side of ``serve``: staff tokens, the JSON API, live events, metrics.

One idea per module: :mod:`.auth` (who is asking), :mod:`.service` (what staff
may change, each change one durable commit), :mod:`.serialize` (records as
JSON), :mod:`.events` (per-restaurant Server-Sent Events), :mod:`.api` (the
``/api/v1`` routes), :mod:`.hooks` (what the conversation commits, told to
events and metrics), :mod:`.metrics` (``/metrics``) and :mod:`.cli` (the
``staff`` and ``orders`` commands of ``bot.py``).
"""
