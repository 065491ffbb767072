"""The whole ordering conversation as one router tree, and the dispatcher that runs it."""

from __future__ import annotations

import time
from collections.abc import Callable

from fsm.config import AppConfig
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.gate import ControlsCache
from routes.conversation.handlers import (
    cart_lines,
    checkout,
    commands,
    detours,
    fallback,
    ordering,
    rating,
    reorder,
)
from routes.conversation.router import Router
from storage.base import SessionStore
from storage.sessions import SessionRepository

conversation = Router("conversation")
# A rating is understood only in the first message after the COMPLETED notification.
conversation.include_router(rating.router)
# An item waiting for its add-ons is asked about before anything leaves that step.
conversation.include_router(detours.guard)
# Commands first: "cart" or "cancel" typed anywhere mean the command, even
# where they could also be read as an answer (an address, an option title).
conversation.include_router(commands.router)
conversation.include_router(detours.router)
conversation.include_router(cart_lines.router)
conversation.include_router(reorder.router)
conversation.include_router(ordering.router)
conversation.include_router(checkout.router)
# Last: answers anything unmatched with the current step's question.
conversation.include_router(fallback.router)


def conversation_dispatcher(config: AppConfig, store: SessionStore, *,
                            clock: Callable[[], float] = time.time,
                            controls: ControlsCache | None = None) -> Dispatcher:
    """The dispatcher every channel (terminal, WhatsApp) runs the conversation with.

    Sessions are read through a cache of ``storage.cache_size`` conversations;
    ``controls`` is shared with whatever else changes the restaurants'
    switches and sold-out items in this process (the staff API).
    """
    repository = SessionRepository(store, cache_size=config.storage.cache_size)
    return Dispatcher(config, repository, conversation, clock=clock, controls=controls)
