"""The last router: whatever nothing else handled gets the current question again."""

from __future__ import annotations

from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import any_message
from routes.conversation.router import Router

router = Router("fallback")

HINT = "Please tap one of the options, or type its number."


@router.message(any_message)
async def ask_again(ctx: Context) -> None:
    kind = ctx.inbound.kind
    if kind == "choice":
        ctx.say("That option is from an earlier step.")
    elif kind == "location":
        ctx.say("Thanks for the location. I'll ask for your address at checkout.")
    elif kind == "unsupported":
        ctx.say("Sorry, I can only read text messages, button taps and locations.")
    elif ctx.number_hint is not None:
        ctx.say(ctx.number_hint)
    elif ctx.session.state == States.CHOOSING_ORDER_TYPE:
        # Most first messages are a greeting: guide rather than apologise.
        ctx.say(HINT)
    else:
        ctx.say(f"Sorry, I didn't understand that. {HINT}")
    ctx.ask()
