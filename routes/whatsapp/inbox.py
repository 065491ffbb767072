"""The durable inbox: acknowledged messages processed once, in order per customer.

A webhook stores its messages (:meth:`SessionStore.accept_inbound`) before
answering 200 and hands the new ones to :class:`InboxProcessor`. Processing
a message runs the conversation and commits, in one transaction, the inbox
mark, the snapshot and the outbox rows (a read receipt, then the replies).
After a crash, :meth:`InboxProcessor.recover` picks up what was acknowledged
but never processed.
"""

from __future__ import annotations

import logging
from operator import attrgetter

import msgpack

from fsm.config import AppConfig
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.messages import Inbound, Location
from routes.conversation.queues import DEFAULT_CONCURRENCY, CustomerQueues
from routes.whatsapp.outbox import OnCommitted, ReplyAddress
from storage.base import Changes, InboxRecord, SessionStore
from storage.errors import AlreadyProcessed, StorageError, is_permanent

logger = logging.getLogger(__name__)



def encode_inbound(inbound: Inbound, profile_name: str | None = None) -> bytes:
    """An inbound message (and the customer's profile name) as the inbox stores it."""
    pin = inbound.location
    location = None if pin is None else [pin.latitude, pin.longitude, pin.name, pin.address]
    packed: bytes = msgpack.packb(
        [inbound.kind, inbound.text, inbound.choice_id, location, profile_name],
        use_bin_type=True)
    return packed


def decode_inbound(payload: bytes) -> tuple[Inbound, str | None]:
    """The message and profile name of an inbox row (rows from before names: ``None``)."""
    kind, text, choice_id, location, *rest = msgpack.unpackb(payload, raw=False)
    pin = None if location is None else Location(*location)
    name = rest[0] if rest and isinstance(rest[0], str) else None
    return Inbound(kind, text=text, choice_id=choice_id, location=pin), name


class InboxProcessor:
    """Processes accepted inbox rows: one message per customer at a time, in order.

    A row leaves the inbox only by a commit that marks it processed. A failed
    commit is retried with backoff while the customer's later messages wait.
    Rows left pending when the process died are picked up by :meth:`recover`
    at start-up; :meth:`sweep` catches any row nobody holds while running.
    """

    def __init__(self, config: AppConfig, store: SessionStore, dispatcher: Dispatcher, *,
                 concurrency: int = DEFAULT_CONCURRENCY,
                 on_committed: OnCommitted | None = None) -> None:
        self.config = config
        self.on_committed = on_committed
        self.store = store
        self.dispatcher = dispatcher
        self._in_flight: set[str] = set()      # message ids submitted and not finished
        self._queues: CustomerQueues[InboxRecord] = CustomerQueues(
            self._process, attrgetter("key"), concurrency=concurrency)
        self.processed = 0

    def __len__(self) -> int:
        """Messages submitted and not yet finished."""
        return len(self._in_flight)

    @property
    def concurrency(self) -> int:
        """Customers processed at once."""
        return self._queues.concurrency

    @property
    def active(self) -> int:
        """Customers whose message is being processed right now."""
        return self._queues.active

    def submit(self, record: InboxRecord) -> bool:
        """Process ``record`` after the customer's earlier ones, unless it already is.

        At most ``concurrency`` customers are served at once, each one message
        at a time; the others wait their turn (they are already durable in
        the inbox). A burst is acknowledged at full speed and worked off at
        the speed processing allows, with no customer queued behind another.
        Returns ``False`` for a message already submitted and not finished.
        """
        if record.message_id in self._in_flight:
            return False
        self._in_flight.add(record.message_id)
        self._queues.submit(record)
        return True

    async def recover(self, limit: int = 1_000_000) -> int:
        """At start-up: submit every acknowledged, unprocessed row; returns how many.

        All of them at once and before the server accepts new messages, so a
        customer's old messages queue ahead of their new ones.
        """
        records = await self.store.pending_inbound(limit=limit)
        for record in records:
            self.submit(record)
        if records:
            logger.info("recovering %d acknowledged but unprocessed messages", len(records))
        if len(records) == limit:
            logger.warning("more than %d pending messages: the rest wait for the sweep", limit)
        return len(records)

    async def sweep(self, received_before: float, batch: int = 1000) -> int:
        """Resubmit pending rows received before ``received_before`` and not in flight.

        A message whose commit fails is retried by the processor itself, with
        its customer held; the sweep catches what nobody holds any more (a
        row that could be neither processed nor answered, say). The cut-off leaves alone rows that
        have just been accepted: the webhook submits those itself.
        """
        records = await self.store.pending_inbound(limit=batch)
        submitted = sum(self.submit(record) for record in records
                        if record.received_at < received_before)
        if submitted:
            logger.warning("retrying %d messages whose processing did not commit", submitted)
        return submitted

    async def stop(self) -> None:
        """Finish the messages being processed and start no more (shutting down).

        Messages still waiting their turn stay pending in the inbox, which is
        durable: the next start processes them, so a deploy is not held up
        by a backlog.
        """
        await self._queues.stop()

    async def drain(self) -> None:
        """Wait for every submitted message to be processed."""
        await self._queues.drain()

    async def _process(self, record: InboxRecord) -> bool:
        """Handle ``record``; ``False`` when its commit failed and it should be retried."""
        try:
            done = await self._feed(record)
        except Exception:
            # Not the store: a bug, or a row this build cannot read. Retrying
            # would fail the same way, and would apply the message after the
            # customer's later ones if a fix came: answer it with an apology.
            logger.exception("processing message=%s failed; answering with an apology",
                             record.message_id)
            done = await self._apologise(record)
        if done:
            self._in_flight.discard(record.message_id)
        return done

    async def _apologise(self, record: InboxRecord) -> bool:
        restaurant = self.config.restaurant(record.key.restaurant_id)
        if restaurant is None:
            return True
        try:
            await self.dispatcher.apologise(restaurant, record.key.customer_id,
                                            message_id=record.message_id,
                                            reply_via=self._address(record))
        except AlreadyProcessed:
            pass  # the failure came after its commit: it was answered
        except StorageError:
            return False
        except Exception:
            # Left pending: the sweep logs it and tries again every 30 s.
            logger.exception("could not answer message=%s either", record.message_id)
        return True

    async def _feed(self, record: InboxRecord) -> bool:
        restaurant = self.config.restaurant(record.key.restaurant_id)
        if restaurant is None:
            # Removed from the config since it was accepted: nobody to answer as.
            logger.error("message=%s for restaurant=%s, no longer configured, dropped",
                         record.message_id, record.key.restaurant_id)
            try:
                await self.store.commit(Changes(record.key, self.dispatcher.clock(),
                                                inbox_processed=record.message_id))
            except AlreadyProcessed:
                pass
            except StorageError:
                return False
            return True
        inbound, profile_name = decode_inbound(record.payload)
        try:
            await self.dispatcher.feed(restaurant, record.key.customer_id, inbound,
                                       profile_name=profile_name,
                                       message_id=record.message_id,
                                       reply_via=self._address(record),
                                       sent_at=record.sent_at)
        except AlreadyProcessed:
            logger.info("message=%s already processed", record.message_id)
            return True
        except StorageError as exc:
            if is_permanent(exc):
                # Refused for good (a snapshot over its limit, say): retrying would
                # wedge this customer for ever. Apologise and move on.
                logger.error("commit refused for good restaurant=%s customer=%s message=%s: "
                             "%s; answering with an apology", restaurant.id,
                             record.key.customer_id, record.message_id, exc)
                return await self._apologise(record)
            logger.error("could not commit restaurant=%s customer=%s message=%s: %s",
                         restaurant.id, record.key.customer_id, record.message_id, exc)
            return False
        self.processed += 1
        return True

    def _address(self, record: InboxRecord) -> ReplyAddress:
        return ReplyAddress.of(record, self.on_committed)
