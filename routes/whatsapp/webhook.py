"""The WhatsApp Cloud API webhook: verify, store durably, answer, then process.

``GET /webhook`` answers Meta's verification handshake; ``POST /webhook``
checks the signature over the raw bytes, parses every entry, stores the
messages in the inbox (one group-committed transaction) and only then
answers 200.  If they cannot be stored it answers 503, so Meta retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Final

from aiohttp import web

from fsm.config import AppConfig
from routes.whatsapp.inbox import InboxProcessor, encode_inbound
from routes.whatsapp.notification import Notification, status_rank
from routes.whatsapp.parser import parse_notification
from routes.whatsapp.signature import SignatureCheck, verify_signature, verify_token_matches
from storage.base import InboxRecord, SessionKey, SessionStore
from storage.errors import StorageError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 4 * 1024 * 1024  # Meta's batches reach ~3 MB (Meta: webhooks, "Payload")


async def signed_json(request: web.Request, app_secret: bytes | None) -> object:
    """The decoded body of a webhook POST, once its signature checks out.

    Raises 401 (no signature), 403 (wrong signature), 400 (not JSON), or 413
    past the app's body limit. ``None`` as the secret checks nothing
    (``--insecure-dev``).
    """
    body = await request.read()
    if app_secret is not None:
        check = verify_signature(app_secret, body, request.headers.get("X-Hub-Signature-256"))
        if check is SignatureCheck.MISSING:
            raise web.HTTPUnauthorized(text="missing X-Hub-Signature-256")
        if check is SignatureCheck.INVALID:
            raise web.HTTPForbidden(text="invalid signature")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise web.HTTPBadRequest(text="body is not JSON") from None


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
        400 for a body that is not JSON, 413 over ``MAX_BODY_BYTES`` — none
        of which changes anything — and 503 when the inbox could not store
        the messages (Meta retries). 200 only once every message of the body
        is durable in the inbox (duplicates of stored ids are acknowledged
        and ignored) and the delivery statuses are recorded; messages are
        then handed to the inbox processor. Messages for a phone number no
        restaurant has are logged and acknowledged.
        """
        notification = parse_notification(await signed_json(request, self.app_secret))
        for note in notification.ignored:
            logger.info("webhook: ignored %s", note)
        for error in notification.errors:
            logger.warning("webhook error phone_number_id=%s code=%s: %s %s",
                           error.phone_number_id, error.code, error.title, error.details or "")
        try:
            records = await self._inbox_records(notification)
            accepted = set(await self.store.accept_inbound(records, notification.identities))
            await self._record_statuses(notification)
        except StorageError as exc:
            logger.error("webhook: could not store %d messages, answering 503: %s",
                         len(notification.messages), exc)
            return web.Response(status=503, text="try again")
        for record in records:
            if record.message_id in accepted:
                self.inbox.submit(record)
            else:
                logger.info("duplicate delivery message=%s ignored", record.message_id)
        return web.Response(text="ok")

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
                payload=encode_inbound(message.inbound),
            ))
        return records

    async def _record_statuses(self, notification: Notification) -> None:
        now = self.clock()
        # Ranks keep a status from moving backwards, so they may commit in any order.
        await asyncio.gather(*(
            self.store.record_status(status.message_id, status.status,
                                     status_rank(status.status), now)
            for status in notification.statuses))
        for status in notification.statuses:
            if status.error_codes:
                logger.warning("message=%s status=%s errors=%s", status.message_id,
                               status.status, list(status.error_codes))
