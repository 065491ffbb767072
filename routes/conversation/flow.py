"""The whole ordering conversation as one router tree, in resolution order."""

from __future__ import annotations

from routes.conversation.handlers import checkout, commands, fallback, ordering
from routes.conversation.router import Router

conversation = Router("conversation")
# Commands first: "cart" or "cancel" typed anywhere mean the command, even
# where they could also be read as an answer (an address, an option title).
conversation.include_router(commands.router)
conversation.include_router(ordering.router)
conversation.include_router(checkout.router)
# Last: answers anything unmatched with the current step's question.
conversation.include_router(fallback.router)
