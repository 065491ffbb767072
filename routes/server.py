"""Serving the application over HTTP, with bounds a slow or hostile client cannot stretch.

``run(app, host=…, port=…)`` replaces ``web.run_app`` for ``serve``: the same
start-up, signals (SIGINT, SIGTERM: stop accepting, finish the requests in
progress, run the cleanups) and shutdown, plus:

- **SIGHUP calls** ``hangup`` (``serve`` re-reads its config:
  :mod:`routes.ops.reload`) instead of ending the process, from before the
  app starts until it has stopped.

- **a request must arrive in time.** aiohttp closes a connection whose
  request line and headers have not all arrived within
  :attr:`ServerLimits.request_arrival_seconds` of connecting (or of its
  last answer: the keep-alive timeout); the webhook answers 408 to a body
  still arriving after ``BODY_READ_SECONDS`` (``routes.whatsapp.webhook``).
- **a bounded number of open connections.** Past
  :attr:`ServerLimits.max_connections`, each new connection closes the
  oldest one that is not being answered (a half-sent request, an idle
  keep-alive), so that idle sockets cannot use up the process's open files
  and starve Meta's webhooks; the kernel's queue of connections not yet
  accepted is :attr:`ServerLimits.backlog`.

:func:`start` does the same inside a running loop (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """How long a request may take to arrive, how many connections stay open."""

    request_arrival_seconds: float = 10.0
    max_connections: int = 512  # well below the common limit of 1,024 open files
    backlog: int = 128
    shutdown_seconds: float = 10.0


class ConnectionCap:
    """Closes the oldest idle connections while more than ``limit`` are open."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a connection limit must be at least 1, not {limit}")
        self.limit = limit
        self.server: web.Server | None = None
        self.closed = 0  # connections closed to make room, for tests and logs
        self._answering: Counter[web.RequestHandler] = Counter()

    def protocol(self) -> web.RequestHandler:
        """The protocol factory the listening socket uses: aiohttp's, capped."""
        assert self.server is not None, "ConnectionCap.server is set before listening"
        excess = len(self.server.connections) + 1 - self.limit
        if excess > 0:
            idle = [connection for connection in self.server.connections
                    if connection not in self._answering]  # oldest first
            for connection in idle[:excess]:
                connection.force_close()
                self.closed += 1
            if self.closed in (1, 10) or self.closed % 1000 == 0:
                logger.warning("over %d open connections: closed the oldest idle ones "
                               "(%d so far)", self.limit, self.closed)
        return self.server()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Marks a connection as being answered while its handler runs."""
        connection = request.protocol
        self._answering[connection] += 1
        try:
            return await handler(request)
        finally:
            self._answering[connection] -= 1
            if self._answering[connection] <= 0:
                del self._answering[connection]


@dataclass(slots=True)
class Serving:
    """A started server: its runner, listening socket and port."""

    runner: web.AppRunner
    listener: asyncio.Server
    cap: ConnectionCap

    @property
    def port(self) -> int:
        port: int = self.listener.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        """Stop accepting, let the requests in progress finish, run the cleanups."""
        self.listener.close()
        await self.runner.cleanup()


async def start(app: web.Application, host: str, port: int,
                limits: ServerLimits = ServerLimits(), *,
                handle_signals: bool = False) -> Serving:
    """Start serving ``app`` (opening what its cleanup contexts open) on ``host:port``."""
    cap = ConnectionCap(limits.max_connections)
    app.middlewares.append(cap.middleware)
    runner = web.AppRunner(app, handle_signals=handle_signals, access_log=None,
                           keepalive_timeout=limits.request_arrival_seconds,
                           shutdown_timeout=limits.shutdown_seconds)
    await runner.setup()
    try:
        assert runner.server is not None
        cap.server = runner.server
        listener = await asyncio.get_running_loop().create_server(
            cap.protocol, host, port, backlog=limits.backlog)
    except BaseException:
        await runner.cleanup()
        raise
    return Serving(runner, listener, cap)


def run(app: web.Application, *, host: str, port: int,
        limits: ServerLimits = ServerLimits(),
        hangup: Callable[[], object] | None = None) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, like ``web.run_app`` (see the module docstring).

    ``hangup`` is called on the loop at each SIGHUP (``None``: SIGHUP is ignored,
    never fatal). Start-up errors (a cleanup context failing, the port in use)
    propagate.
    """
    async def serve() -> None:
        serving = await start(app, host, port, limits, handle_signals=True)
        try:
            await asyncio.Event().wait()  # until a signal raises GracefulExit
        finally:
            await serving.close()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.add_signal_handler(signal.SIGHUP, _on_hangup, hangup)
    main = loop.create_task(serve())
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            rest = asyncio.all_tasks(loop)
            for task in rest:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.remove_signal_handler(signal.SIGHUP)
            asyncio.set_event_loop(None)
            loop.close()


def _on_hangup(hangup: Callable[[], object] | None) -> None:
    if hangup is None:
        logger.info("SIGHUP ignored")
        return
    try:
        hangup()
    except Exception:  # a reload must never take the server down
        logger.exception("SIGHUP: the reload failed; serving on as before")
