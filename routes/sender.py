"""The outbox sender: each customer's replies, in order, one at a time, to Graph.

Rows are read from the store (they were committed with the change that
caused them), so a reply survives a crash between commit and send.  A reply
in flight at the instant of a crash may be sent twice: Meta accepted it but
``outbox_sent`` was not yet written.  That is the only duplicate possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from functools import partial
from typing import Final

import aiohttp

from routes.graph import (
    Accepted,
    Permanent,
    Retryable,
    SendOutcome,
    classify_send_result,
    transport_failure,
)
from storage.base import OutboxRecord, SessionKey, SessionStore

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS: Final = 1.0
SEND_TIMEOUT_SECONDS: Final = 20.0


class OutboxSender:
    def __init__(self, store: SessionStore, http: aiohttp.ClientSession, graph_url: str,
                 access_token: str, clock: Callable[[], float],
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.http = http
        self.graph_url = graph_url.rstrip("/")
        self.access_token = access_token
        self.clock = clock
        self.rng = rng or random.Random()
        self.sent = 0
        self._wakeup = asyncio.Event()
        self._busy: dict[SessionKey, asyncio.Task[None]] = {}
        # Customers whose task ended while a pass was reading: the rows it read
        # may predate that task's last "sent" mark, so they are not acted on.
        self._ended_during_read: set[SessionKey] = set()
        self._stopping = False

    def wake(self) -> None:
        """New rows were committed: look for them now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        """Send until :meth:`stop`; rows due later (backoff) are picked up by polling."""
        while not self._stopping:
            self._wakeup.clear()
            try:
                await self._send_due()
            except Exception:
                logger.exception("outbox pass failed; retrying")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), IDLE_POLL_SECONDS)

    async def stop(self) -> None:
        """Stop after the sends in flight finish (their outcome is recorded)."""
        self._stopping = True
        self._wakeup.set()
        if self._busy:
            await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def _send_due(self) -> None:
        self._ended_during_read.clear()
        rows = await self.store.pending_outbound(self.clock())
        by_customer: dict[SessionKey, list[OutboxRecord]] = {}
        for row in rows:
            by_customer.setdefault(row.key, []).append(row)
        for key, queue in by_customer.items():
            if key in self._busy or key in self._ended_during_read:
                continue  # the next pass (woken by the task's end) reads these afresh
            task = asyncio.create_task(self._send_in_order(queue), name=f"send {key}")
            self._busy[key] = task
            task.add_done_callback(partial(self._finished, key))

    def _finished(self, key: SessionKey, _: asyncio.Task[None]) -> None:
        self._busy.pop(key, None)
        self._ended_during_read.add(key)
        self._wakeup.set()

    async def _send_in_order(self, rows: list[OutboxRecord]) -> None:
        for row in rows:
            outcome = await self._post(row)
            now = self.clock()
            if isinstance(outcome, Accepted):
                await self.store.outbox_sent(row.id, outcome.wamid, now)
                self.sent += 1
            elif isinstance(outcome, Retryable):
                delay = outcome.delay(row.attempts + 1) * (1 + self.rng.random() / 4)
                logger.warning("send to customer=%s outbox=%d will be retried in %.1fs: %s",
                               row.key.customer_id, row.id, delay, outcome.describe())
                await self.store.outbox_retry(row.id, now + delay, outcome.describe())
                return  # later replies wait behind this one
            else:
                self._log_permanent(row, outcome)
                await self.store.outbox_failed(row.id, outcome.describe(), now)

    async def _post(self, row: OutboxRecord) -> SendOutcome:
        url = f"{self.graph_url}/{row.phone_number_id}/messages"
        headers = {"Authorization": f"Bearer {self.access_token}",
                   "Content-Type": "application/json"}
        try:
            async with self.http.post(url, data=row.body.encode(), headers=headers,
                                      timeout=aiohttp.ClientTimeout(SEND_TIMEOUT_SECONDS)
                                      ) as response:
                try:
                    body = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    body = None
                return classify_send_result(response.status, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return transport_failure(exc)

    @staticmethod
    def _log_permanent(row: OutboxRecord, outcome: Permanent) -> None:
        kind = json.loads(row.body).get("type", row.kind)
        logger.error("giving up on %s to restaurant=%s customer=%s outbox=%d: %s",
                     kind, row.key.restaurant_id, row.key.customer_id, row.id,
                     outcome.describe())
