"""The web application ``serve`` runs: ``create_app(settings, open_store)``.

Mounted: the WhatsApp webhook (``GET``/``POST /webhook``), ``GET /healthz``,
the staff API under ``/api/v1`` with its live events, and ``GET /metrics``
(:mod:`routes.staff`), and the staff console's web page at ``/console``
(:mod:`routes.console`). Shared objects live under typed :class:`aiohttp.web.AppKey`
keys; resources open and close in ``cleanup_ctx``, in order: the store, then
the WhatsApp channel (Graph client, sender, inbox processor, upkeep).
Handlers are module functions that read ``request.app[KEY]``.

The config can be replaced while serving (``SIGHUP``, :mod:`routes.ops.reload`):
:class:`LiveConfig` (``app[LIVE_CONFIG]``) hands the new one to every object
that reads it, in one synchronous step, so no message sees half of a change.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Final, Protocol

from aiohttp import web

from fsm.config import AppConfig
from routes.console import add_console
from routes.conversation.flow import conversation_dispatcher
from routes.conversation.gate import ControlsCache
from routes.settings import Settings
from routes.staff import api as staff_api
from routes.staff.auth import Authenticator
from routes.staff.events import EventHub
from routes.staff.hooks import ConversationHooks
from routes.staff.metrics import METRICS, Metrics, TimedGraphClient, count_webhooks, serve_metrics
from routes.staff.service import StaffService
from routes.staff.shared_events import SharedEvents
from routes.whatsapp.claims import ClaimedInbox, SharedControls, coordination_of, send_locks
from routes.whatsapp.inbox import InboxProcessor
from routes.whatsapp.locked_sender import LockedOutboxSender
from routes.whatsapp.sender import OutboxSender
from routes.whatsapp.upkeep import maintain
from routes.whatsapp.webhook import MAX_BODY_BYTES, WhatsAppWebhook
from storage.base import SessionStore
from storage.errors import CorruptSnapshot, SnapshotTooLarge, StorageError, WriteRefused

logger = logging.getLogger(__name__)

# Opens the store for the app's lifetime (and holds whatever lock it needs);
# chosen by the caller, so that only the command line picks a backend.
StoreOpener = Callable[[], AbstractAsyncContextManager[SessionStore]]

SETTINGS: Final = web.AppKey("settings", Settings)
STORE: Final = web.AppKey("store", SessionStore)
INBOX: Final = web.AppKey("inbox", InboxProcessor)
SENDER: Final = web.AppKey("sender", OutboxSender)
WEBHOOK: Final = web.AppKey("webhook", WhatsAppWebhook)
_OPEN_STORE: Final[web.AppKey[StoreOpener]] = web.AppKey("open_store")


class ReadsConfig(Protocol):
    """An object that looks up restaurants in its ``config`` at each message or call."""

    config: AppConfig


class LiveConfig:
    """The config ``serve`` runs on now; :meth:`replace` swaps it everywhere at once.

    The dispatcher, the inbox processor, the webhook, the conversation hooks and
    the staff service each keep a ``config`` attribute and read it per message
    (or call); :meth:`replace` sets them all and the metrics' source without
    awaiting, so on the event loop the swap is atomic: a message being handled
    finishes with the restaurant it started with, the next one gets the new
    menu (stored carts are reconciled with it then). ``session.ttl_minutes``,
    ``storage``, ``server`` and ``whatsapp`` are read at start-up only.
    """

    def __init__(self, config: AppConfig) -> None:
        self.current = config
        self._readers: list[ReadsConfig] = []
        self._listeners: list[Callable[[AppConfig], None]] = []

    def attach(self, *readers: ReadsConfig, listener: Callable[[AppConfig], None] | None = None
               ) -> None:
        """Keep ``readers`` (and ``listener``) on the current config from now on."""
        self._readers.extend(readers)
        if listener is not None:
            self._listeners.append(listener)
        for reader in readers:
            reader.config = self.current
        if listener is not None:
            listener(self.current)

    def detach(self) -> None:
        self._readers.clear()
        self._listeners.clear()

    def replace(self, config: AppConfig) -> None:
        self.current = config
        for reader in self._readers:
            reader.config = config
        for listener in self._listeners:
            listener(config)


LIVE_CONFIG: Final = web.AppKey("live_config", LiveConfig)


def create_app(settings: Settings, open_store: StoreOpener) -> web.Application:
    """The ``serve`` application; nothing is opened until it starts."""
    app = web.Application(client_max_size=MAX_BODY_BYTES,
                          middlewares=[count_webhooks, store_unavailable])
    app[SETTINGS] = settings
    app[LIVE_CONFIG] = LiveConfig(settings.config)
    app[_OPEN_STORE] = open_store
    app[METRICS] = Metrics()
    app[staff_api.EVENTS] = EventHub()
    app.on_shutdown.append(_end_event_streams)
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_whatsapp)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/webhook", verify_webhook)
    app.router.add_post("/webhook", receive_webhook)
    app.router.add_get("/metrics", serve_metrics)
    staff_api.add_routes(app)
    add_console(app)
    return app


@web.middleware
async def store_unavailable(request: web.Request,
                            handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                            ) -> web.StreamResponse:
    """A request the store cannot answer now (down, full, locked) gets ``503`` saying so,
    not a ``500`` and a traceback: Meta and browsers retry a 503. One whose value the
    store refuses for good (:class:`~storage.errors.WriteRefused`) gets ``400``."""
    try:
        return await handler(request)
    except WriteRefused as exc:
        # Refused for good (a value the database cannot hold, e.g. a NUL character):
        # the request's fault, and a retry would be refused again.
        logger.warning("%s %s: the store refused a value: %s", request.method, request.path,
                       exc)
        return web.json_response({"error": "a value in this request cannot be stored"},
                                 status=400)
    except (CorruptSnapshot, SnapshotTooLarge):
        raise  # not the store's availability: a bug to see as such
    except StorageError as exc:
        logger.warning("%s %s: the store cannot answer: %s", request.method, request.path, exc)
        return web.json_response({"error": "the database is unavailable; try again shortly"},
                                 status=503, headers={"Retry-After": "5"})


async def healthz(request: web.Request) -> web.Response:
    """``200 ok`` once the database is open, ``503 starting`` before.

    503 with the reason while the sender cannot send (Graph rejected the
    access token): the operator's to fix.
    """
    if STORE not in request.app:
        return web.Response(status=503, text="starting")
    sender = request.app.get(SENDER)
    if sender is not None and sender.problem is not None:
        return web.Response(status=503, text=sender.problem)
    return web.Response(text="ok")


async def verify_webhook(request: web.Request) -> web.Response:
    """Meta's ``GET /webhook`` verification handshake."""
    return await request.app[WEBHOOK].verify(request)


async def receive_webhook(request: web.Request) -> web.Response:
    """Meta's ``POST /webhook``: stored durably, then answered 200 (see the webhook)."""
    return await request.app[WEBHOOK].receive(request)


async def _end_event_streams(app: web.Application) -> None:
    app[staff_api.EVENTS].close()


async def _storage(app: web.Application) -> AsyncIterator[None]:
    async with app[_OPEN_STORE]() as store:
        app[STORE] = store
        yield


async def _whatsapp(app: web.Application) -> AsyncIterator[None]:
    settings, store = app[SETTINGS], app[STORE]
    metrics, hub = app[METRICS], app[staff_api.EVENTS]
    async with TimedGraphClient(settings.graph_url, settings.access_token, metrics) as graph:
        # Several processes on one PostgreSQL database share the work by claims and
        # send locks (routes.whatsapp.claims); None for SQLite and memory.
        coordination = coordination_of(store)
        locks = send_locks(coordination)
        sender = (OutboxSender(store, graph, settings.clock) if locks is None
                  else LockedOutboxSender(store, graph, settings.clock, locks))
        # One cache of the switches and sold-out items: the staff API writes what the
        # conversation reads (re-read each second when other processes may write it).
        controls = ControlsCache(store) if coordination is None else SharedControls(store)
        dispatcher = conversation_dispatcher(settings.config, store, clock=settings.clock,
                                             controls=controls)
        hooks = ConversationHooks(settings.config, hub, metrics, sender.enqueue)
        hooks.install(dispatcher)
        inbox = (InboxProcessor(settings.config, store, dispatcher,
                                on_committed=hooks.on_committed) if coordination is None
                 else ClaimedInbox(settings.config, store, dispatcher, coordination,
                                   on_committed=hooks.on_committed))
        secret = settings.app_secret
        app[SENDER], app[INBOX] = sender, inbox
        app[WEBHOOK] = WhatsAppWebhook(
            settings.config, store, inbox,
            app_secret=None if secret is None else secret.get_secret_value(),
            verify_token=settings.verify_token.get_secret_value(), clock=settings.clock)
        app[staff_api.AUTHENTICATOR] = Authenticator(settings.admin_token, store)
        app[staff_api.SERVICE] = StaffService(settings.config, store, controls, hub=hub,
                                              deliver=sender.enqueue, clock=settings.clock)
        metrics.attach(store, settings.config)
        # From here on a reload (SIGHUP) swaps the config of all of them at once;
        # attaching also applies one that came during start-up.
        live = app[LIVE_CONFIG]
        live.attach(dispatcher, inbox, app[WEBHOOK], hooks, app[staff_api.SERVICE],
                    listener=partial(metrics.attach, store))
        # On a shared database every process's clients see every process's events.
        shared = None if coordination is None else SharedEvents(hub, coordination.events())
        if shared is not None:
            await shared.start()
        try:
            await inbox.recover()
            sending = asyncio.create_task(sender.run(), name="outbox sender")
            upkeep = asyncio.create_task(maintain(settings.clock, store, inbox), name="upkeep")
            try:
                yield
            finally:
                # The server stopped accepting: finish the messages being processed
                # and the sends in flight; everything else is durable for the next start.
                upkeep.cancel()
                live.detach()
                metrics.detach()
                await inbox.stop()
                await sender.stop()
                await sending
        finally:
            if shared is not None:  # its tasks and LISTEN connection, whatever happened
                await shared.stop()


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the latency path of a busy server.

    With CPython's defaults, ``serve`` under load ran a full (gen 2) collection
    every couple of seconds, each pausing the event loop 40–80 ms: the worst
    of the p99 POST → reply. Nearly everything here is freed by reference
    counting, so collecting after 50,000 net allocations instead of 700
    leaves young collections rare (and ~10–15 ms) and full ones rarer still;
    what was loaded at start-up (modules, config, menus) is frozen out of
    every collection.
    """
    gc.set_threshold(50_000, 20, 100)
    gc.freeze()
