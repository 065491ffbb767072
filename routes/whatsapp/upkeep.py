"""Background upkeep while serving: retry stuck messages, prune what is past keeping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from routes.console.sessions import IDLE_SECONDS as CONSOLE_IDLE_SECONDS
from routes.whatsapp.inbox import InboxProcessor
from storage.base import SessionStore
from storage.errors import StorageError

logger = logging.getLogger(__name__)

INBOX_RETENTION_SECONDS: Final = 8 * 24 * 3600  # Meta retries for 7 days; keep ids longer
OUTBOX_RETENTION_SECONDS: Final = 30 * 24 * 3600  # what was sent, for disputes; orders stay
PRUNE_INTERVAL_SECONDS: Final = 3600.0
SWEEP_INTERVAL_SECONDS: Final = 30.0


async def maintain(clock: Callable[[], float], store: SessionStore, inbox: InboxProcessor,
                   interval: float = SWEEP_INTERVAL_SECONDS) -> None:
    """Run until cancelled: retry messages whose commit failed; prune old rows.

    Every ``interval`` the inbox is swept for messages accepted more than
    ``interval`` ago and still pending (their commit failed). Once an hour,
    starting now, inbox ids past Meta's redelivery window and replies
    finished more than 30 days ago are pruned, in small chunks so that
    commits go on meanwhile, and so are the staff console's sign-in
    sessions idle for longer than their limit (12 h).
    """
    next_prune = 0.0
    while True:
        now = clock()
        try:
            if now >= next_prune:
                ids = await store.prune_inbox(now - INBOX_RETENTION_SECONDS)
                replies = await store.prune_outbox(now - OUTBOX_RETENTION_SECONDS)
                if ids or replies:
                    logger.info("pruned %d inbox ids and %d sent replies past retention",
                                ids, replies)
                signed_in = await store.prune_console_sessions(now - CONSOLE_IDLE_SECONDS)
                if signed_in:
                    logger.info("pruned %d idle console sessions", signed_in)
                next_prune = now + PRUNE_INTERVAL_SECONDS
            await inbox.sweep(received_before=now - interval)
        except StorageError as exc:
            logger.error("maintenance: %s", exc)
        except Exception:
            logger.exception("maintenance failed; trying again at the next interval")
        await asyncio.sleep(interval)
