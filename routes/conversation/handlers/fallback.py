"""The last router: whatever nothing else handled gets the current question again."""

from __future__ import annotations

from typing import Final

from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import any_message
from routes.conversation.router import Router

router = Router("fallback")

HINT = "Please tap one of the options, or type its number."
# What the bot cannot do, by the channel's message type; then what it can.
CANNOT: Final = {
    "voice": "Sorry, I can't listen to voice notes.",
    "audio": "Sorry, I can't listen to audio messages.",
    "image": "Sorry, I can't look at pictures.",
    "sticker": "Thanks for the sticker! I can't read stickers, though.",
    "video": "Sorry, I can't watch videos.",
    "document": "Sorry, I can't open documents.",
    "contacts": "Sorry, I can't read shared contacts.",
}
CAN: Final = ("I can read what you type, your taps on the options and a shared location pin. "
              "Type \"menu\" to see what we have, or \"help\".")


def media_reply(media: str) -> str:
    """The answer to a message the bot cannot read (``media``: its type, if known)."""
    return f"{CANNOT.get(media, 'Sorry, I can only read text messages.')} {CAN}"


@router.message(any_message)
async def ask_again(ctx: Context) -> None:
    kind = ctx.inbound.kind
    ctx.session.asking = ctx.asked  # a side question not answered is asked again
    if kind == "choice":
        ctx.say("That option is from an earlier step.")
    elif kind == "location":
        ctx.say("Thanks for the location. I'll ask for your address at checkout.")
    elif kind == "unsupported":
        ctx.say(media_reply(ctx.inbound.text))
    elif ctx.number_hint is not None:
        ctx.say(ctx.number_hint)
    elif ctx.session.state == States.CHOOSING_ORDER_TYPE:
        # Most first messages are a greeting: guide rather than apologise.
        ctx.say(HINT)
    else:
        ctx.say(f"Sorry, I didn't understand that. {HINT}")
    ctx.ask()
