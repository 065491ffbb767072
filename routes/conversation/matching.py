"""Typed text matched to the options of the current step.

A customer may type an option's number (``2``) or its title or keyword
(``pickup``, ``Margherita``), in any case and with punctuation; while
ordering, any category or item of the menu by name; and an item with a
quantity (``2 margherita``, ``2x margherita``, ``margherita x2``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from fsm.cart import MAX_QUANTITY
from fsm.config import Restaurant
from fsm.session import Session
from fsm.states import States
from routes.conversation.messages import Inbound, options_of
from routes.conversation.questions import question_for

_NOT_WORD: Final = re.compile(r"[^\w\s]+")
_SPACES: Final = re.compile(r"\s+")
# States in which a typed item or category name anywhere on the menu is understood.
_CATALOGUE_STATES: Final = frozenset((*States.ORDERING, States.CHECKOUT_CONFIRMATION))
# Typed quantities, on normalized text: "2 margherita", "2x margherita", "margherita x2".
_QUANTITY_FIRST: Final = re.compile(r"(?P<n>\d{1,2})(?:\s*x)?\s+(?P<name>.+)")
_QUANTITY_LAST: Final = re.compile(r"(?P<name>.+?)\s+(?:x\s*)?(?P<n>\d{1,2})")


@lru_cache(maxsize=4096)  # option titles recur on every typed message
def normalize(raw: str) -> str:
    """Lower case, punctuation and repeated spaces removed: how typed text is compared."""
    return _SPACES.sub(" ", _NOT_WORD.sub("", raw.lower())).strip()


def resolve_choice(inbound: Inbound, typed: str, session: Session, restaurant: Restaurant,
                   *, catalogue: Restaurant | None = None) -> tuple[str | None, int]:
    """The interactive id ``inbound`` selects in ``session``'s step, and how many.

    ``typed`` is the message's text after :func:`normalize`. A tap selects its
    own id; typed text an option of the current question, or an item with a
    quantity (1 to ``MAX_QUANTITY``). ``(None, 1)`` when nothing matches.
    Options come from ``restaurant`` (the menu as shown); names typed while
    ordering are also looked up in ``catalogue`` (the whole menu, sold-out
    items included, so the handler can say one is sold out).
    """
    catalogue = catalogue or restaurant
    choice = _choice(inbound, typed, session, restaurant, catalogue)
    if choice is not None or inbound.kind != "text":
        return choice, 1
    # Not an option as typed: perhaps an item with a quantity.
    match = _QUANTITY_FIRST.fullmatch(typed) or _QUANTITY_LAST.fullmatch(typed)
    if match is None or match.group("name").isdigit():  # "2 3" is not an item
        return None, 1
    quantity = int(match.group("n"))
    choice = _choice(inbound, match.group("name"), session, restaurant, catalogue)
    if choice is None or not choice.startswith("item:") or not 1 <= quantity <= MAX_QUANTITY:
        return None, 1
    return choice, quantity


def _choice(inbound: Inbound, typed: str, session: Session, restaurant: Restaurant,
            catalogue: Restaurant) -> str | None:
    if inbound.kind == "choice":
        return inbound.choice_id
    if not typed:
        return None
    options = options_of(question_for(session, restaurant))
    if typed.isdigit():
        number = int(typed)
        return options[number - 1].id if 1 <= number <= len(options) else None
    for option in options:
        names = (option.title, *option.keywords)
        if any(normalize(name) == typed for name in names):
            return option.id
    if session.state in _CATALOGUE_STATES:
        return _catalogue_choice(typed, catalogue)
    return None


def _catalogue_choice(typed: str, restaurant: Restaurant) -> str | None:
    for category in restaurant.menu:
        if normalize(category.title) == typed or category.id == typed:
            return f"category:{category.id}"
    for category in restaurant.menu:
        for item in category.items:
            if normalize(item.name) == typed or item.id == typed:
                return f"item:{item.id}"
    return None
