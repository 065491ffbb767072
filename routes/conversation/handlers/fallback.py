"""The last router: whatever nothing else handled gets the current question again."""

from __future__ import annotations

from typing import Final

from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import any_message
from routes.conversation.i18n import N_, _
from routes.conversation.router import Router

router = Router("fallback")

HINT = N_("Please tap one of the options, or type its number.")
# What the bot cannot do, by the channel's message type; then what it can.
CANNOT: Final = {
    "voice": N_("Sorry, I can't listen to voice notes."),
    "audio": N_("Sorry, I can't listen to audio messages."),
    "image": N_("Sorry, I can't look at pictures."),
    "sticker": N_("Thanks for the sticker! I can't read stickers, though."),
    "video": N_("Sorry, I can't watch videos."),
    "document": N_("Sorry, I can't open documents."),
    "contacts": N_("Sorry, I can't read shared contacts."),
}
CANNOT_READ: Final = N_("Sorry, I can only read text messages.")
CAN: Final = N_("I can read what you type, your taps on the options and a shared location "
                "pin. Type \"menu\" to see what we have, or \"help\".")


def media_reply(media: str) -> str:
    """The answer to a message the bot cannot read (``media``: its type, if known), in the
    current language."""
    return f"{_(CANNOT.get(media, CANNOT_READ))} {_(CAN)}"


@router.message(any_message)
async def ask_again(ctx: Context) -> None:
    kind = ctx.inbound.kind
    ctx.session.asking = ctx.asked  # a side question not answered is asked again
    if kind == "choice":
        ctx.say(_("That option is from an earlier step."))
    elif kind == "location":
        ctx.say(_("Thanks for the location. I'll ask for your address at checkout."))
    elif kind == "unsupported":
        ctx.say(media_reply(ctx.inbound.text))
    elif ctx.number_hint is not None:
        ctx.say(ctx.number_hint)
    elif ctx.session.state == States.CHOOSING_ORDER_TYPE:
        # Most first messages are a greeting: guide rather than apologise.
        ctx.say(_(HINT))
    else:
        ctx.say(_("Sorry, I didn't understand that.") + " " + _(HINT))
    ctx.ask()
