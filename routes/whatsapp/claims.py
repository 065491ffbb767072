"""Processing by claim: several ``serve`` processes on one PostgreSQL database.

With a store other processes share (:class:`~storage.postgres.PostgresStore`),
a webhook only accepts a message (and the database wakes every process's
claimers, :mod:`storage.postgres_claims`); which process handles it is
decided by a claim in the database, not by who received it.  A customer's
consecutive messages may reach different instances and are still
processed once each, in order:

* :class:`ClaimedInbox` — the inbox processor's :data:`WORKERS` workers
  each claim up to :data:`BATCH` customers with pending messages, process
  the oldest pending message of each at once, then end the claim and claim
  again.  Each message is handled exactly as
  :class:`~routes.whatsapp.inbox.InboxProcessor` does; the store writes the
  batch's commits, which reach it together, in one transaction (group
  commit, :mod:`storage.postgres_group`; a unit refused there is refused
  alone), and reads their sessions in one query.  Idle, the workers wait
  for a notification, or poll every :data:`POLL_SECONDS`.
* Sessions are read from the store for every message (the repository's
  cache is off; a claimed batch's reads share one query): another process
  may have moved the conversation on since this one last saw it.  A
  version column would save only the bytes of the snapshot, not the round
  trip that checks it, so it is not worth a column and a second way to be
  stale.
* :class:`SharedControls` — the restaurants' switches and sold-out items,
  which staff may change through any instance, are read again once they
  are :data:`CONTROLS_MAX_AGE` old.
* The outbox sender sends a customer's replies only under that customer's
  lock (:class:`~routes.whatsapp.locked_sender.CustomerLocks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

from fsm.config import AppConfig
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.gate import ControlsCache
from routes.conversation.queues import COMMIT_RETRY
from routes.whatsapp.inbox import InboxProcessor
from routes.whatsapp.outbox import OnCommitted
from storage.base import InboxRecord, SessionKey, SessionStore
from storage.errors import StorageError
from storage.staff import Controls, RestaurantControls

if TYPE_CHECKING:  # asyncpg (the postgres extra) is imported only with a PostgreSQL store
    from storage.postgres_claims import Coordination
    from storage.postgres_send_locks import SendLocks

logger = logging.getLogger(__name__)

BATCH: Final = 16  # customers per claim
# Claims in progress at once per process: while one batch waits on the database,
# another is processed (2 left this process's CPU idle a third of the time). Each
# holds a pooled connection while its batch runs, and the batch's reads and group
# commit need others: keep it well below the store's pool (10).
WORKERS: Final = 4
POLL_SECONDS: Final = 1.0
STUCK_SECONDS: Final = 30.0  # a message neither processed nor answered waits this long
CONTROLS_MAX_AGE: Final = 1.0
REMEMBERED: Final = 10_000  # message ids this process finished, to notice one still pending


def coordination_of(store: SessionStore) -> Coordination | None:
    """How processes sharing ``store`` share work, or ``None`` if none can share it.

    Only a store several processes may share offers ``coordination()`` (PostgreSQL);
    asking by name keeps its driver out of a SQLite-only install.
    """
    coordination = getattr(store, "coordination", None)
    return cast("Coordination", coordination()) if callable(coordination) else None


def send_locks(coordination: Coordination | None) -> SendLocks | None:
    return None if coordination is None else coordination.send_locks()


class SharedControls(ControlsCache):
    """:class:`ControlsCache` for controls other processes may change: kept a second."""

    def __init__(self, store: RestaurantControls, max_age: float = CONTROLS_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(store)
        self._max_age = max_age
        self._clock = clock
        self._read_at: dict[str, float] = {}

    async def get(self, restaurant_id: str) -> Controls:
        read_at = self._read_at.get(restaurant_id)
        now = self._clock()
        if read_at is None or now - read_at > self._max_age:
            self._read_at[restaurant_id] = now
            self.put(await self._store.controls(restaurant_id))
        return await super().get(restaurant_id)


class ClaimedInbox(InboxProcessor):
    """The inbox processor for a shared database; see the module docstring.

    :meth:`submit` only wakes the workers (the message is already in the
    inbox, claimable by every process); :meth:`recover` starts them.
    """

    def __init__(self, config: AppConfig, store: SessionStore, dispatcher: Dispatcher,
                 coordination: Coordination, *, workers: int = WORKERS, batch: int = BATCH,
                 poll: float = POLL_SECONDS, on_committed: OnCommitted | None = None) -> None:
        super().__init__(config, store, dispatcher, concurrency=workers * batch,
                         on_committed=on_committed)
        # Another process may have committed this customer's last message.
        dispatcher.repository.cache_size = 0
        dispatcher.repository.clear()
        self._coordination = coordination
        self._workers = workers
        self._batch = batch
        self._poll = poll
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._processing = 0
        self._held: dict[SessionKey, float] = {}  # not claimed again before (loop time)
        self._failures: dict[SessionKey, int] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._stopping = False

    def __len__(self) -> int:
        return self._processing

    @property
    def active(self) -> int:
        return self._processing

    def submit(self, record: InboxRecord) -> bool:
        """A message was accepted here: claim now rather than at the next poll."""
        self.wake()
        return True

    def wake(self) -> None:
        # Each waiting worker holds the event it waits on: a wake-up between a worker's
        # empty claim and its wait is not lost.
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def recover(self, limit: int = 1_000_000) -> int:
        """Start claiming (what is pending now goes first); how many messages are pending."""
        pending = len(await self.store.pending_inbound(limit=limit))
        if pending:
            logger.info("recovering: %d acknowledged but unprocessed messages are pending "
                        "(claimed by this and the other instances)", pending)
        if not self._tasks:
            self._tasks.append(asyncio.create_task(self._coordination.listen(self.wake),
                                                   name="inbox listener"))
            self._tasks += [asyncio.create_task(self._work(), name=f"inbox claimer {n}")
                            for n in range(self._workers)]
        return pending

    async def sweep(self, received_before: float, batch: int = 1000) -> int:
        """Nothing to do: every pending message is claimable by some process's poll."""
        return 0

    async def stop(self) -> None:
        """Finish the claimed messages being processed; claim no more."""
        self._stopping = True
        self.wake()
        if self._tasks:
            self._tasks[0].cancel()  # the listener; the workers end after their batch
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def drain(self) -> None:
        """Wait until no message is pending (in any process) and none is being processed."""
        # Polled: other processes' work has no event here.
        while self._processing or await self.store.pending_inbound(limit=1):  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def _work(self) -> None:
        while not self._stopping:
            wakeup = self._wakeup
            try:
                claimed = await self._claim_and_process()
            except StorageError as exc:
                logger.error("claiming messages: %s", exc)
                claimed = 0
                await asyncio.sleep(self._poll)
            except Exception:
                logger.exception("claiming messages failed; trying again")
                claimed = 0
                await asyncio.sleep(self._poll)
            if claimed or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), self._poll)

    async def _claim_and_process(self) -> int:
        now = asyncio.get_running_loop().time()
        for key in [key for key, until in self._held.items() if until <= now]:
            del self._held[key]
        async with self._coordination.claim(self._batch, exclude=self._held) as records:
            if records:
                self._processing += len(records)
                try:
                    await asyncio.gather(*(self._one(record) for record in records))
                finally:
                    self._processing -= len(records)
            return len(records)

    async def _one(self, record: InboxRecord) -> None:
        key, loop = record.key, asyncio.get_running_loop()
        if record.message_id in self._finished:
            # Finished here, yet pending: it could be neither processed nor answered
            # (logged). Tried again after a while, as the sweep does with one process.
            logger.warning("message=%s is still pending after it was handled; trying again "
                           "in %.0f s", record.message_id, STUCK_SECONDS)
            del self._finished[record.message_id]
            self._held[key] = loop.time() + STUCK_SECONDS
            return
        done = await self._process(record)
        if done:
            self._failures.pop(key, None)
            self._finished[record.message_id] = None
            if len(self._finished) > REMEMBERED:
                self._finished.popitem(last=False)
        else:
            # Its commit failed: this customer waits a backoff; the others go on.
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            self._held[key] = loop.time() + COMMIT_RETRY.delay(failures)
