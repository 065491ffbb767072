"""The outbox sender: each customer's replies, in order, one at a time, to Graph.

Rows are committed with the change that caused them, so a reply survives a
crash between commit and send: the next start finds it in the store.  A
reply in flight at the instant of a crash may be sent twice: Meta accepted it
but its "sent" mark was not yet written.  That is the only duplicate possible:
once Graph has accepted a message this process never posts it again — the
mark is retried with backoff until it lands (through a full disk, say), the
row held as in flight meanwhile so that no scan posts it again.  The marks
are written in the background, many in one write
(:mod:`routes.whatsapp.sent_marks`): a customer's next reply does not wait
for the last one's.

A rejected access token holds every reply pending rather than failing it
(:mod:`routes.whatsapp.token_gate`); with other processes sending from the
same PostgreSQL database, :mod:`routes.whatsapp.locked_sender` takes a
customer's lock around their sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final

from routes.whatsapp.client import GraphClient
from routes.whatsapp.errors import Accepted, Permanent, Retryable, SendOutcome
from routes.whatsapp.sent_marks import SentMarks
from routes.whatsapp.token_gate import TokenGate, token_rejected
from storage.base import OutboxRecord, SessionKey, SessionStore
from storage.mail import SentMark

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS: Final = 1.0


class OutboxSender:
    """Sends the outbox; see the module docstring.

    A commit hands its rows over (:meth:`enqueue`) once they are durable, so
    the common path never reads the outbox back. The whole queue is scanned
    at start-up and every ``IDLE_POLL_SECONDS``: that picks up rows due again
    after a backoff, and anything left from before a restart.
    """

    def __init__(self, store: SessionStore, graph: GraphClient, clock: Callable[[], float],
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.graph = graph
        self.clock = clock
        self.rng = rng or random.Random()
        self._wakeup = asyncio.Event()
        self._queued: dict[SessionKey, list[OutboxRecord]] = {}  # handed over, not started
        self._busy: dict[SessionKey, asyncio.Task[None]] = {}
        self._held: set[SessionKey] = set()  # a row waits for a retry: the rest wait too
        self._receipts: set[asyncio.Task[None]] = set()
        self._in_flight: set[int] = set()  # receipts being sent, rows being marked sent
        self.marks = SentMarks(store, self._in_flight, self.rng)
        # Customers whose sending ended while a scan was reading: the rows it
        # read may predate their last "sent" mark, so they are not acted on.
        self._ended_during_read: set[SessionKey] = set()
        self._next_scan = 0.0
        self._started = False
        self._stopping = False
        self.token = TokenGate(self.wake)

    @property
    def problem(self) -> str | None:
        """Why nothing is being sent (Graph refuses the access token), or ``None``."""
        return self.token.problem

    def enqueue(self, key: SessionKey, rows: list[OutboxRecord]) -> None:
        """``rows`` were just committed for ``key``: send them after its earlier ones."""
        if (self._stopping or not self._started or key in self._held
                or self.token.refused(key)):
            # Durable: the scan sends them once what is ahead of them is done.
            return
        self._queued.setdefault(key, []).extend(rows)
        if key not in self._busy:
            self._start(key, None)

    def wake(self) -> None:
        """Scan the whole queue now rather than at the next poll."""
        self._next_scan = 0.0
        self._wakeup.set()

    async def run(self) -> None:
        """Scan periodically until :meth:`stop`; sending happens in per-customer tasks."""
        loop = asyncio.get_running_loop()
        # Rows left from before a restart (some waiting for a retry, some past
        # the first scan's limit) must go before anything newer of theirs.
        while not self._started and not self._stopping:
            try:
                self._held = await self.store.pending_keys()
                self._started = True
            except Exception:
                logger.exception("outbox: could not list pending conversations; retrying")
                await asyncio.sleep(IDLE_POLL_SECONDS)
        while not self._stopping:
            self._wakeup.clear()
            if loop.time() >= self._next_scan:
                self._next_scan = loop.time() + IDLE_POLL_SECONDS
                try:
                    await self._scan()
                except Exception:
                    logger.exception("outbox scan failed; retrying")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(),
                                       max(self._next_scan - loop.time(), 0.0))

    async def stop(self) -> None:
        """Stop after the sends in flight finish (their outcome is recorded)."""
        self._stopping = True
        self._wakeup.set()
        while self._busy or self._receipts:
            await asyncio.gather(*self._busy.values(), *self._receipts,
                                 return_exceptions=True)
        await self.marks.close()

    async def _scan(self) -> None:
        if not self.token.scan_may_run():
            return
        self._ended_during_read.clear()
        sending = set(self._in_flight)  # receipts may be marked sent during the read
        rows = await self.store.pending_outbound(self.clock())
        by_customer: dict[SessionKey, list[OutboxRecord]] = {}
        for row in rows:
            if row.id not in sending:
                by_customer.setdefault(row.key, []).append(row)
        for key in self.token.choose_probe(list(by_customer)):
            queue = by_customer[key]
            if key not in self._busy and key not in self._ended_during_read:
                self._held.discard(key)  # its retry is due: it heads the rows read
                self._start(key, queue)

    def _start(self, key: SessionKey, rows: list[OutboxRecord] | None) -> None:
        self._busy[key] = asyncio.create_task(self._drain(key, rows), name=f"send {key}")

    async def _drain(self, key: SessionKey, rows: list[OutboxRecord] | None) -> None:
        """Send ``rows``, then whatever is handed over for ``key`` meanwhile, in id order."""
        handled_upto = 0  # a row both scanned and handed over is sent once
        try:
            while not self._stopping:
                if rows is None:
                    rows = self._queued.pop(key, None)
                    if rows is None:
                        return
                fresh = [row for row in rows if row.id > handled_upto]
                if fresh:
                    handled_upto = fresh[-1].id
                    if not await self._send_or_hold(key, fresh):
                        return
                rows = None
        finally:
            self._ended(key)

    async def _send_or_hold(self, key: SessionKey, rows: list[OutboxRecord],
                            locked: SessionKey | None = None) -> bool:
        """Send ``rows`` in order; ``False`` when one waits for a retry (or sending broke):
        the customer is then held and the rest left to the scan, behind it."""
        try:
            sent_all = await self._send_in_order(rows, locked)
        except Exception:
            logger.exception("sending to customer=%s stopped; the scan resumes it",
                             key.customer_id)
            sent_all = False
        if not sent_all:
            self._held.add(key)
            self._queued.pop(key, None)
        return sent_all

    def _ended(self, key: SessionKey) -> None:
        # Synchronously with the last check: from now on enqueue starts a new task.
        del self._busy[key]
        self.token.ended(key)
        self._ended_during_read.add(key)

    async def _send_in_order(self, rows: list[OutboxRecord],
                             locked: SessionKey | None = None) -> bool:
        """Send ``rows`` one at a time; ``False`` if one has to wait for a retry.

        ``locked``: the customer whose lock is held (:meth:`_drain_locked`),
        checked before each post; the receipt is then sent before the lock
        is let go rather than beside the next replies.
        """
        receipts = [row for row in rows if row.kind == "read" and row.id not in self._in_flight]
        for row in rows:
            if self._stopping:
                return True  # the rest are durable: the next start sends them
            if self.token.refused(row.key):
                return False  # held until the token works again (or a restart)
            if locked is not None and not self._still_held(locked):
                return True  # lost: the process holding it now sends the rest
            if row.id in self._in_flight:
                continue
            if row.kind == "read":
                if row is receipts[-1]:  # after the replies to the messages it covers
                    if locked is None:
                        self._send_receipt(row, covered=receipts[:-1])
                    else:
                        self._in_flight.update(receipt.id for receipt in receipts)
                        await self._receipt(row, receipts[:-1], defer=False)
                continue
            outcome = await self._post(row)
            now = self.clock()
            if isinstance(outcome, Accepted):
                self.token.works()
                if locked is None:
                    self.marks.add(row.id, outcome.wamid, now)  # the next reply goes now
                else:  # durable before the lock is let go: the next holder reads it sent
                    await self._mark_sent(row, outcome.wamid)
            elif token_rejected(outcome):
                self.token.refuse(outcome)
                return False  # this row and the rest stay pending, untouched
            elif isinstance(outcome, Retryable):
                delay = outcome.delay(row.attempts + 1, self.rng)
                logger.warning("send to customer=%s outbox=%d will be retried in %.1fs: %s",
                               row.key.customer_id, row.id, delay, outcome.describe())
                await self.store.outbox_retry(row.id, now + delay, outcome.describe())
                return False  # later replies wait behind this one
            else:
                self._log_permanent(row, outcome)
                await self.store.outbox_failed(row.id, outcome.describe(), now)
        return True

    async def _mark_sent(self, row: OutboxRecord, wamid: str | None) -> None:
        """Record that Meta accepted ``row`` before returning; retried until it lands
        (:meth:`SentMarks.write`), the row held in ``_in_flight`` meanwhile."""
        self._in_flight.add(row.id)
        try:
            await self.marks.write([SentMark(row.id, wamid, self.clock())])
        finally:
            self._in_flight.discard(row.id)

    def _still_held(self, key: SessionKey) -> bool:
        """Whether this process still holds ``key``'s send lock (always, without locks)."""
        return True

    def _send_receipt(self, row: OutboxRecord, covered: list[OutboxRecord]) -> None:
        """A read receipt goes out beside the replies, not ahead of them.

        Marking a message read also marks the customer's earlier messages
        read (Meta: "the API also marks earlier messages in the conversation
        as read"), so only the latest of ``row``'s customer's pending
        receipts is sent, after the replies to the messages it covers, and
        the ``covered`` ones are settled with it.  For the same reason a
        receipt is worth one try: a failed one is recorded and not retried;
        the next message's receipt covers it.  "Latest" is the order the
        messages were processed in; a message Meta delivered out of order
        could be left without its read ticks.
        """
        self._in_flight.update(receipt.id for receipt in (row, *covered))
        task = asyncio.create_task(self._receipt(row, covered), name=f"read receipt {row.id}")
        self._receipts.add(task)
        task.add_done_callback(self._receipts.discard)

    async def _receipt(self, row: OutboxRecord, covered: list[OutboxRecord], *,
                       defer: bool = True) -> None:
        """Post the receipt ``row``, then record it and the ``covered`` ones: ``defer``
        hands the marks to :attr:`marks` (which let their ids leave ``_in_flight``)."""
        handed: set[int] = set()  # ids whose marks SentMarks now owns
        try:
            outcome = await self._post(row)
            now = self.clock()
            marks: list[Awaitable[None]] = []
            if isinstance(outcome, Accepted):
                self.token.works()
                if defer:
                    self.marks.add(row.id, outcome.wamid, now)
                    for receipt in covered:
                        self.marks.add(receipt.id, None, now)
                    handed = {receipt.id for receipt in (row, *covered)}
                else:  # the caller holds their ids in _in_flight until we return
                    marks = [self.marks.write([SentMark(row.id, outcome.wamid, now),
                                               *(SentMark(receipt.id, None, now)
                                                 for receipt in covered)])]
            elif token_rejected(outcome):
                self.token.refuse(outcome)
                marks = []  # left pending: sent once the token works
            else:
                logger.info("read receipt to customer=%s outbox=%d not sent: %s",
                            row.key.customer_id, row.id, outcome.describe())
                marks = [self.store.outbox_failed(receipt.id, outcome.describe(), now)
                         for receipt in (row, *covered)]
            # Every mark finished before these ids leave _in_flight: a scan
            # must not read one as pending while it is being written.
            for result in await asyncio.gather(*marks, return_exceptions=True):
                if isinstance(result, Exception):
                    logger.error("read receipt outbox=%d: could not record it (%s); the "
                                 "scan sends it again", row.id, result)
        except Exception:
            logger.exception("read receipt outbox=%d", row.id)
        finally:
            self._in_flight.difference_update(
                receipt.id for receipt in (row, *covered) if receipt.id not in handed)
            self._ended_during_read.add(row.key)

    async def _post(self, row: OutboxRecord) -> SendOutcome:
        if self.token.refused(row.key):
            # Another customer's send found the token refused meanwhile.
            return self.token.refusal()
        return await self.graph.send(row.phone_number_id, row.body.encode())

    @staticmethod
    def _log_permanent(row: OutboxRecord, outcome: Permanent) -> None:
        kind = json.loads(row.body).get("type", row.kind)
        logger.error("giving up on %s to restaurant=%s customer=%s outbox=%d: %s",
                     kind, row.key.restaurant_id, row.key.customer_id, row.id,
                     outcome.describe())
