"""The WhatsApp Cloud API webhook: verify, store durably, answer, then process.

``GET /webhook`` answers Meta's verification handshake; ``POST /webhook``
checks the signature over the raw bytes, parses every entry, stores the
messages in the inbox (one group-committed transaction) and only then
answers 200.  If they cannot be stored it answers 503, so Meta retries.

A correctly signed body never gets a 5xx for what it holds: values storage
could not hold are dropped by the parser (a log line, 200); a write the
store refuses for good is redone message by message and only the refused
ones are set aside.  503 means the store cannot write now (disk full,
locked) or did not take the batch within :data:`ACCEPT_DEADLINE_SECONDS`
(Meta waits about 5 s).  A rejected request (401, 403, 400, 408, 413) is
logged, a line per reason every :data:`REJECTION_LOG_SECONDS` at most.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web

from fsm.config import AppConfig
from routes.whatsapp.inbox import InboxProcessor, encode_inbound
from routes.whatsapp.notification import Notification, status_rank
from routes.whatsapp.parser import parse_notification
from routes.whatsapp.signature import SignatureCheck, verify_signature, verify_token_matches
from storage.base import InboxRecord, SessionKey, SessionStore
from storage.errors import StorageError, WriteRefused

logger = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 4 * 1024 * 1024  # Meta's batches reach ~3 MB (Meta: webhooks, "Payload")
BODY_READ_SECONDS: Final = 10.0  # a body still arriving after this is answered 408
ACCEPT_DEADLINE_SECONDS: Final = 3.0  # Meta gives up on a webhook after about 5 s
REJECTION_LOG_SECONDS: Final = 10.0


class RejectionLog:
    """One warning line per kind of rejected request every ``interval`` seconds at most.

    A wrong app secret shows at once, and a flood of forged requests costs a
    line every ``interval`` (with the count of those not logged), never one
    each.  Lines name the status, the reason and the client address, never
    a header's value or the body.
    """

    def __init__(self, interval: float = REJECTION_LOG_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._last: dict[tuple[int, str], float] = {}
        self._suppressed: dict[tuple[int, str], int] = {}

    def __call__(self, status: int, reason: str, remote: str | None) -> None:
        key, now = (status, reason), self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        suppressed = self._suppressed.pop(key, 0)
        self._last[key] = now
        more = f" ({suppressed} more like it not logged)" if suppressed else ""
        logger.warning("webhook rejected with %d from %s: %s%s", status, remote or "unknown",
                       reason, more)


async def signed_json(request: web.Request, app_secret: bytes | None,
                      rejected: RejectionLog | None = None,
                      read_seconds: float = BODY_READ_SECONDS) -> object:
    """The decoded body of a webhook POST, once its signature checks out.

    Raises 401 (no signature), 403 (wrong signature), 400 (not JSON, or
    nested too deep to decode), 408 (the body took over ``read_seconds``
    to arrive) or 413 past the app's body limit,
    each told to ``rejected``. ``None`` as the secret checks nothing
    (``--insecure-dev``).
    """
    def reject(error: type[web.HTTPClientError], reason: str) -> web.HTTPClientError:
        if rejected is not None:
            rejected(error.status_code, reason, request.remote)
        return error(text=reason)

    try:
        async with asyncio.timeout(read_seconds):
            body = await request.read()
    except TimeoutError:
        raise reject(web.HTTPRequestTimeout, "body not received in time") from None
    except web.HTTPRequestEntityTooLarge:
        if rejected is not None:
            rejected(413, f"body over {request.client_max_size} bytes", request.remote)
        raise
    if app_secret is not None:
        check = verify_signature(app_secret, body, request.headers.get("X-Hub-Signature-256"))
        if check is SignatureCheck.MISSING:
            raise reject(web.HTTPUnauthorized, "missing X-Hub-Signature-256")
        if check is SignatureCheck.INVALID:
            raise reject(web.HTTPForbidden, "invalid signature")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise reject(web.HTTPBadRequest, "body is not JSON") from None
    except RecursionError:
        raise reject(web.HTTPBadRequest, "body is nested too deep") from None


class WhatsAppWebhook:
    """The two webhook endpoints Meta calls, for every configured phone number."""

    def __init__(self, config: AppConfig, store: SessionStore, inbox: InboxProcessor, *,
                 app_secret: bytes | None, verify_token: str,
                 clock: Callable[[], float]) -> None:
        self.config = config
        self.store = store
        self.inbox = inbox
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.clock = clock
        self.accept_deadline = ACCEPT_DEADLINE_SECONDS
        self.body_read_seconds = BODY_READ_SECONDS
        self.rejected = RejectionLog()

    async def verify(self, request: web.Request) -> web.Response:
        """``GET /webhook``: echo ``hub.challenge`` when ``hub.verify_token`` matches, else 403.

        Meta's "Verification Requests": ``hub.mode=subscribe``,
        ``hub.verify_token`` (ours), ``hub.challenge`` (to echo as text).
        """
        query = request.query
        if (query.get("hub.mode") == "subscribe"
                and verify_token_matches(self.verify_token, query.get("hub.verify_token"))):
            return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")
        return web.Response(status=403, text="verification failed")

    async def receive(self, request: web.Request) -> web.Response:
        """``POST /webhook``: check, store durably, answer, then process.

        Answers 401 without ``X-Hub-Signature-256``, 403 with a wrong one,
        400 for a body that is not JSON, 408 for one too slow to arrive, 413
        over ``MAX_BODY_BYTES`` — none of which changes anything — and 503
        when the store cannot write or did not take the messages within
        ``accept_deadline`` seconds (Meta retries; what it stored later is
        processed, and the retry is a duplicate). 200 only once every message of the body
        is durable in the inbox (duplicates of stored ids are acknowledged
        and ignored) and the delivery statuses are recorded; messages are
        then handed to the inbox processor. Messages for a phone number no
        restaurant has are logged and acknowledged.
        """
        notification = parse_notification(
            await signed_json(request, self.app_secret, self.rejected, self.body_read_seconds))
        for note in notification.ignored:
            logger.info("webhook: ignored %s", note)
        for note in notification.rejected:
            logger.warning("webhook: invalid %s", note)
        for error in notification.errors:
            logger.warning("webhook error phone_number_id=%s code=%s: %s %s",
                           error.phone_number_id, error.code, error.title, error.details or "")
        # Shielded: past the deadline the writes go on, and whatever they
        # accept is processed (Meta's retry of it is then a duplicate).
        storing = asyncio.ensure_future(self._store(notification))
        answered = False
        try:
            async with asyncio.timeout(self.accept_deadline):
                records, accepted = await asyncio.shield(storing)
            answered = True
        except TimeoutError:
            logger.error("webhook: the store did not take %d messages within %.1f s, "
                         "answering 503", len(notification.messages), self.accept_deadline)
            return web.Response(status=503, text="try again")
        except StorageError as exc:
            answered = True
            logger.error("webhook: could not store %d messages, answering 503: %s",
                         len(notification.messages), exc)
            return web.Response(status=503, text="try again")
        finally:
            if not answered:
                storing.add_done_callback(self._stored_late)
        self._submit(records, accepted)
        return web.Response(text="ok")

    async def _store(self, notification: Notification) -> tuple[list[InboxRecord], set[str]]:
        """Accept the messages and record the statuses; the records and the new ids.

        Raises StorageError when the store cannot write; a write it refuses
        for good is set aside with a log line instead.
        """
        records = await self._inbox_records(notification)
        try:
            accepted = set(await self.store.accept_inbound(records, notification.identities))
        except WriteRefused as exc:
            logger.error("webhook: the store refused %d messages (%s); trying each alone",
                         len(records), exc)
            accepted = await self._accept_one_by_one(records, notification.identities)
        await self._record_statuses(notification)
        return records, accepted

    async def _accept_one_by_one(self, records: list[InboxRecord],
                                 identities: tuple[tuple[str, str], ...]) -> set[str]:
        accepted: set[str] = set()
        try:
            await self.store.accept_inbound([], identities)
        except WriteRefused as exc:
            logger.error("webhook: identities %r set aside: %s", identities, exc)
        for record in records:
            try:
                accepted.update(await self.store.accept_inbound([record]))
            except WriteRefused as exc:
                logger.error("webhook: message=%r set aside, acknowledged: %s",
                             record.message_id, exc)
        return accepted

    def _submit(self, records: list[InboxRecord], accepted: set[str]) -> None:
        for record in records:
            if record.message_id in accepted:
                self.inbox.submit(record)
            else:
                logger.info("duplicate delivery message=%s ignored", record.message_id)

    def _stored_late(self, storing: asyncio.Future[tuple[list[InboxRecord], set[str]]]) -> None:
        """The writes of a webhook answered 503 (or cut short) finished: process what landed."""
        if storing.cancelled():
            return
        error = storing.exception()
        if error is not None:
            logger.warning("webhook: the late writes failed too (%s); Meta retries", error)
            return
        records, accepted = storing.result()
        if accepted:
            logger.info("webhook: %d messages stored after the 503; processing them",
                        len(accepted))
        self._submit(records, accepted)

    async def _inbox_records(self, notification: Notification) -> list[InboxRecord]:
        paired = dict(notification.identities)
        now = self.clock()
        records: list[InboxRecord] = []
        for message in notification.messages:
            restaurant = self.config.restaurant_for_phone_number(message.phone_number_id)
            if restaurant is None:
                logger.warning("message=%s for unknown phone_number_id=%s acknowledged",
                               message.message_id, message.phone_number_id)
                continue
            try:
                payload = encode_inbound(message.inbound, message.profile_name)
            except (ValueError, OverflowError) as exc:  # UnicodeEncodeError is a ValueError
                logger.error("webhook: message=%r set aside, its content cannot be stored: %s",
                             message.message_id, exc)
                continue
            wa_id = message.wa_id
            if wa_id is None and message.user_id is not None:
                wa_id = paired.get(message.user_id) or await self.store.resolve_customer(
                    message.user_id)
            customer_id = wa_id or message.customer_id
            records.append(InboxRecord(
                message_id=message.message_id,
                key=SessionKey(restaurant.id, customer_id),
                phone_number_id=message.phone_number_id,
                wa_id=wa_id,
                user_id=message.user_id,
                sent_at=message.timestamp,
                received_at=now,
                payload=payload,
            ))
        return records

    async def _record_statuses(self, notification: Notification) -> None:
        now = self.clock()
        # Ranks keep a status from moving backwards, so they may commit in any order.
        results = await asyncio.gather(*(
            self.store.record_status(status.message_id, status.status,
                                     status_rank(status.status), now)
            for status in notification.statuses), return_exceptions=True)
        for status, result in zip(notification.statuses, results, strict=True):
            if isinstance(result, WriteRefused):
                logger.error("webhook: status %r of message=%r set aside: %s",
                             status.status, status.message_id, result)
            elif isinstance(result, BaseException):
                raise result
        for status in notification.statuses:
            if status.error_codes:
                logger.warning("message=%s status=%s errors=%s", status.message_id,
                               status.status, list(status.error_codes))
