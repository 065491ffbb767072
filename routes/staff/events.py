"""Live events per restaurant, as Server-Sent Events (``aiohttp-sse``).

:meth:`EventHub.publish` is called only after the change it announces is
committed. Each restaurant's events go to that restaurant's subscribers
only. Ids are ``<boot>-<n>``: ``n`` counts up; ``boot`` names the sequence
— random per process, or, when processes share a PostgreSQL database
(:meth:`EventHub.share`, :mod:`routes.staff.shared_events`), the same in
all of them, each event then numbered by the database and delivered by
every process to its own clients. Each restaurant keeps its last
``capacity`` events, so a client reconnecting with ``Last-Event-ID`` gets
what it missed; when that is gone (evicted, from before this process
started listening, or of another sequence) it gets one ``reset`` event
instead, meaning "re-read everything", and live events after it. A client
too slow to keep up is disconnected; it reconnects the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from storage.errors import StorageError

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY: Final = 1000
QUEUE_LIMIT: Final = 1000
PING_SECONDS: Final = 15.0
# How often an open stream asks again whether its client may still listen (one
# store read each): a revoked token or a signed-out console hears at most this
# much more.
RECHECK_SECONDS = 1.0
WARN_EVERY_SECONDS: Final = 30.0
_warned_at = -WARN_EVERY_SECONDS  # when the store last could not answer a check (monotonic)
# One encoder for every event: json.dumps with options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
RESET: Final = "reset"


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    id: str
    restaurant_id: str
    kind: str
    data: str  # JSON text


@dataclass(slots=True, eq=False)  # hashed by identity: one per connected client
class Subscription:
    """One connected client: what it missed (``replay``), or ``reset``, then live events."""

    restaurant_id: str
    replay: list[Event]
    reset: bool
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))


class EventHub:
    """Fans committed changes out to the connected clients of their restaurant."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, boot: str | None = None) -> None:
        self.boot = boot or secrets.token_hex(4)
        self.capacity = capacity
        self._seq = 0
        self._floor = 0  # ids below it are from before this process delivered any
        self._recent: dict[str, deque[Event]] = {}
        self._evicted: dict[str, int] = {}  # restaurant → seq of its newest evicted event
        self._subscribers: dict[str, set[Subscription]] = {}
        self._outlet: Callable[[str, str, str], None] | None = None

    @property
    def last_id(self) -> str:
        return f"{self.boot}-{self._seq}"

    def subscribers(self, restaurant_id: str) -> int:
        return len(self._subscribers.get(restaurant_id, ()))

    def publish(self, restaurant_id: str, kind: str, data: dict[str, Any]) -> None:
        """Announce ``kind`` (e.g. ``order.updated``) with ``data`` to the restaurant's clients.

        Shared (:meth:`share`), the event reaches them once read back from
        the database, with every process's.
        """
        text = _ENCODER.encode(data)
        if self._outlet is not None:
            self._outlet(restaurant_id, kind, text)
            return
        self.deliver(self._seq + 1, restaurant_id, kind, text)

    def deliver(self, seq: int, restaurant_id: str, kind: str, data: str) -> None:
        """Hand event number ``seq`` (above every earlier one) to the restaurant's clients."""
        self._seq = seq
        event = Event(seq, f"{self.boot}-{seq}", restaurant_id, kind, data)
        recent = self._recent.setdefault(restaurant_id, deque())
        recent.append(event)
        if len(recent) > self.capacity:
            self._evicted[restaurant_id] = recent.popleft().seq
        for subscription in list(self._subscribers.get(restaurant_id, ())):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(subscription)  # too slow: it reconnects and catches up

    def share(self, boot: str, seen: int, outlet: Callable[[str, str, str], None]) -> None:
        """From now on ``publish`` hands ``(restaurant_id, kind, JSON text)`` to ``outlet``,
        and events come back numbered by :meth:`deliver`, in the sequence ``boot``,
        after ``seen``.

        Clients connected before are ended (they reconnect and re-read), so
        no client mixes ids of two sequences.
        """
        self.close()
        self.boot, self._seq, self._floor = boot, seen, seen
        self._recent.clear()
        self._evicted.clear()
        self._outlet = outlet

    def subscribe(self, restaurant_id: str, last_event_id: str | None) -> Subscription:
        """Register a client (synchronously: nothing published can fall in between)."""
        replay: list[Event] = []
        reset = False
        if last_event_id:
            seq = self._seq_of(last_event_id)
            if (seq is None or seq < self._floor
                    or seq < self._evicted.get(restaurant_id, 0)):
                reset = True
            else:
                replay = [e for e in self._recent.get(restaurant_id, ()) if e.seq > seq]
        subscription = Subscription(restaurant_id, replay, reset)
        self._subscribers.setdefault(restaurant_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.get(subscription.restaurant_id, set()).discard(subscription)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        for subscriptions in self._subscribers.values():
            for subscription in list(subscriptions):
                self._drop(subscription)

    def _drop(self, subscription: Subscription) -> None:
        self.unsubscribe(subscription)
        while not subscription.queue.empty():
            subscription.queue.get_nowait()
        subscription.queue.put_nowait(None)

    def _seq_of(self, event_id: str) -> int | None:
        """The sequence number of an id of this process life, else ``None``."""
        boot, _, number = event_id.strip().rpartition("-")
        # ASCII digits only ("²" is a digit to str.isdigit), and no more than
        # an id can have (int() refuses thousands of digits with ValueError).
        if boot != self.boot or not (number.isascii() and number.isdigit()) \
                or len(number) > 19:
            return None
        seq = int(number)
        return seq if seq <= self._seq else None


async def stream(request: web.Request, hub: EventHub, restaurant_id: str,
                 allowed: Callable[[], Awaitable[bool]]) -> web.StreamResponse:
    """Serve ``GET …/events``: the missed events (or ``reset``), then live ones until gone.

    ``allowed`` says whether the client may still listen (its token not
    revoked, its console session not ended); it is asked again every
    :data:`RECHECK_SECONDS` (before the next event or while none comes),
    and the stream ends once it says no. While the store cannot answer, the
    stream goes on (asked again a second later).
    """
    headers = {"Cache-Control": "no-store"}
    async with sse_response(request, headers=headers, ping_interval=PING_SECONDS) as response:
        subscription = hub.subscribe(restaurant_id, response.last_event_id)
        try:
            if subscription.reset:
                await response.send(json.dumps({"last_id": hub.last_id}), id=hub.last_id,
                                    event=RESET)
            for event in subscription.replay:
                await response.send(event.data, id=event.id, event=event.kind)
            await _forward(response, subscription, allowed)
        except ConnectionResetError:
            pass
        finally:
            hub.unsubscribe(subscription)
    return response


async def _forward(response: EventSourceResponse, subscription: Subscription,
                   allowed: Callable[[], Awaitable[bool]]) -> None:
    closed = asyncio.ensure_future(response.wait())  # the client went away (pings fail)
    getter: asyncio.Future[Event | None] | None = None
    checked = time.monotonic()
    try:
        while True:
            if getter is None:
                getter = asyncio.ensure_future(subscription.queue.get())
            wait = max(0.0, checked + RECHECK_SECONDS - time.monotonic())
            waiting: set[asyncio.Future[Any]] = {getter, closed}
            done, _ = await asyncio.wait(waiting, timeout=wait,
                                         return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                return
            if time.monotonic() - checked >= RECHECK_SECONDS:
                if not await _still_allowed(allowed):
                    return
                checked = time.monotonic()
            if getter not in done:
                continue
            event, getter = getter.result(), None
            if event is None:
                return
            await response.send(event.data, id=event.id, event=event.kind)
    finally:
        # Also when the stream is cancelled (shutdown): no task may be left pending.
        closed.cancel()
        if getter is not None:
            getter.cancel()


async def _still_allowed(allowed: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await allowed()
    except StorageError as exc:
        # The store is away a moment: the client was allowed a second ago, and
        # nothing new is committed meanwhile. Ending the stream would not help:
        # a browser's EventSource gives up on the refused reconnection.
        global _warned_at
        if time.monotonic() - _warned_at >= WARN_EVERY_SECONDS:  # not once per stream
            _warned_at = time.monotonic()
            logger.warning("live events: cannot check clients' access now (%s); streams go "
                           "on and ask again", exc)
        return True
