"""Typed text matched to the options of the current step.

A customer may type an option's number (``2``) or its title or keyword
(``pickup``, ``Margherita``), in any case and with punctuation; while
ordering, any category or item of the menu by name; and an item with a
quantity (``2 margherita``, ``2x margherita``, ``margherita x2``).

Every typed number — an option's number or a quantity — is read by one
reader, :func:`read_number`, from the text *as typed*: punctuation is only
dropped from the words around it, so ``1.5``, ``-1`` and ``1-2`` are seen
for what they are (a decimal, a negative, a range) and refused with a hint,
never read as ``15``, ``1`` or ``12``. Digits are Unicode decimal digits
(``٣`` Arabic-Indic and ``۳`` Persian mean 3); a character that is numeric
but not a decimal digit (``²``, ``②``, ``½``) is refused with a hint too.

Arabic is matched as people type it: hamza on or under the alef or not
(``احمر`` finds ``أحمر``), alef maksura for yeh (``ى``/``ي``), heh for teh
marbuta (``سلطه`` finds ``سلطة``), with or without harakat and tatweel.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from fsm.cart import MAX_QUANTITY
from fsm.config import Restaurant
from fsm.session import Session
from fsm.states import States
from routes.conversation.i18n import N_, _
from routes.conversation.messages import Inbound, Option, options_of
from routes.conversation.questions import question_for
from routes.conversation.side_questions import LINE, NOTE

_NOT_WORD: Final = re.compile(r"[^\w\s]+")
_SPACES: Final = re.compile(r"\s+")
# States in which a typed item or category name anywhere on the menu is understood.
_CATALOGUE_STATES: Final = frozenset((*States.ORDERING, States.CHECKOUT_CONFIRMATION))
# What may sit inside a typed number besides digits: signs, decimal marks, range dashes.
_DASHES: Final = frozenset("-\u2212\u2013\u2014")  # hyphen, minus sign, en and em dash
_NUMBER_MARKS: Final = frozenset("+.,/:") | _DASHES
# Spaces around a mark between two digits are dropped, so "1 - 2" reads as "1-2".
_SPACED_MARK: Final = re.compile(r"(?<=\w)\s*([-\u2212\u2013\u2014.,/])\s*(?=\w)")
# "2x", "x2", "×2", "2×": the multiplication sign customers put by a quantity.
_TIMES: Final = ("x", "×", "*")
# Dropped from the end before reading: "2!" is 2, "2." too.
_END_PUNCTUATION: Final = "!?.… "
NUMBER_MAX_CHARS: Final = 12  # longer "numbers" are refused unread

# Hints for a typed number that cannot be used, by what was wrong with it.
WHOLE_NUMBER_HINT: Final = N_("Please type a whole number, like 2.")
NUMBER_HINTS: Final = {
    "decimal": N_("Please type a whole number, like 2 (not a decimal)."),
    "negative": N_("Please type a number from 1 up, like 2 (not a negative one)."),
    "range": N_("Please type one number, like 2 (not a range)."),
    "digits": N_("I can only read numbers typed with ordinary digits, like 2."),
    "long": WHOLE_NUMBER_HINT,
    "other": WHOLE_NUMBER_HINT,
}
# Arabic letters typed interchangeably, as the one they are compared as. Hamza on or
# under an alef and on a yeh is a combining mark after NFD, dropped with the other
# marks (harakat included); these letters do not decompose.
_ARABIC_VARIANTS: Final = str.maketrans({
    "\N{ARABIC LETTER ALEF WASLA}": "\N{ARABIC LETTER ALEF}",
    "\N{ARABIC LETTER ALEF MAKSURA}": "\N{ARABIC LETTER YEH}",
    "\N{ARABIC LETTER FARSI YEH}": "\N{ARABIC LETTER YEH}",
    "\N{ARABIC LETTER TEH MARBUTA}": "\N{ARABIC LETTER HEH}",
    "\N{ARABIC LETTER KEHEH}": "\N{ARABIC LETTER KAF}",
    "\N{ARABIC TATWEEL}": None,
})


@dataclass(frozen=True, slots=True)
class Number:
    """A typed number: its ``value``, or the ``problem`` that keeps it from being used.

    ``problem`` is one of the keys of :data:`NUMBER_HINTS`.
    """

    value: int | None = None
    problem: str | None = None

    @property
    def hint(self) -> str | None:
        """The hint in the current language."""
        return None if self.problem is None else _(NUMBER_HINTS[self.problem])


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a message selects: an option id (or ``None``), how many, and a hint if a typed
    number could not be used (then nothing is selected)."""

    choice: str | None = None
    quantity: int = 1
    hint: str | None = None


def looks_numeric(token: str) -> bool:
    """Whether ``token`` is written as a number: numeric characters and number marks only."""
    return (any(ch.isnumeric() for ch in token)
            and all(ch.isnumeric() or ch in _NUMBER_MARKS for ch in token))


def read_number(token: str) -> Number:
    """The number ``token`` spells, or why it cannot be used; never raises.

    Only whole numbers of Unicode decimal digits are read (``int`` reads
    ``٣`` and ``۳`` as 3); decimals (``1.5``, ``1,5``), negatives (``-1``),
    ranges (``1-2``), other numeric characters (``²``, ``②``) and tokens
    over :data:`NUMBER_MAX_CHARS` characters are refused.
    """
    if len(token) > NUMBER_MAX_CHARS:
        return Number(problem="long")
    if token.isdecimal():
        return Number(int(token))
    if any(ch.isnumeric() and not ch.isdecimal() for ch in token):
        return Number(problem="digits")
    if token[:1] in _DASHES and token[1:].isdecimal():
        return Number(problem="negative")
    body = token.lstrip("+")
    if any(mark in body for mark in ".,") and all(
            part.isdecimal() for part in re.split(r"[.,]", body)):
        return Number(problem="decimal")
    if any(dash in body for dash in _DASHES):
        return Number(problem="range")
    return Number(problem="other")


@lru_cache(maxsize=4096)  # option titles recur on every typed message
def normalize(raw: str) -> str:
    """How typed titles are compared: lower case, accents, punctuation and repeated spaces
    removed (``Jalapeños!`` → ``jalapenos``), Arabic letter variants folded
    (``أحمر`` → ``احمر``, ``سلطة`` → ``سلطه``, ``حلوى`` → ``حلوي``).

    Accents go by canonical decomposition (NFD) alone, never compatibility
    (NFKD), which would turn ``²`` into ``2``.
    """
    decomposed = unicodedata.normalize("NFD", raw.lower()).translate(_ARABIC_VARIANTS)
    plain = unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    return _SPACES.sub(" ", _NOT_WORD.sub("", plain)).strip()


def split_quantity(raw: str) -> tuple[str, str] | None:
    """``(number as typed, name as typed)`` when ``raw`` puts a number before or after a name.

    ``"2 margherita"``, ``"2x margherita"``, ``"margherita x2"``, ``"margherita 2"``,
    ``"1.5 margherita"`` (then ``"1.5"`` is read, and refused, by :func:`read_number`).
    """
    text = _SPACED_MARK.sub(r"\1", " ".join(raw.lower().split()))
    words = text.split(" ")
    if len(words) < 2:
        return None
    first = words[0].rstrip("".join(_TIMES)) or words[0]
    if looks_numeric(first):
        rest = words[1:]
        if rest[0] in _TIMES and len(rest) > 1:
            rest = rest[1:]
        return first, " ".join(rest)
    last = words[-1].lstrip("".join(_TIMES)) or words[-1]
    if looks_numeric(last):
        rest = words[:-1]
        if rest[-1] in _TIMES and len(rest) > 1:
            rest = rest[:-1]
        return last, " ".join(rest)
    return None


def resolve_choice(inbound: Inbound, typed: str, session: Session, restaurant: Restaurant,
                   *, catalogue: Restaurant | None = None) -> Resolution:
    """What ``inbound`` selects in ``session``'s step, and how many.

    ``typed`` is the message's text after :func:`normalize`; numbers are read
    from ``inbound.text`` as typed. A tap selects its own id; typed text an
    option of the current question, or an item with a quantity (1 to
    ``MAX_QUANTITY``). A typed number that cannot be used gives a hint and
    selects nothing. Options come from ``restaurant`` (the menu as shown);
    names typed while ordering are also looked up in ``catalogue`` (the whole
    menu, sold-out items included, so the handler can say one is sold out).
    """
    catalogue = catalogue or restaurant
    if inbound.kind == "choice":
        return Resolution(inbound.choice_id)
    if inbound.kind != "text" or not typed:
        return Resolution()
    options = options_of(question_for(session, restaurant))
    asking = session.asking or ""
    if asking.startswith(NOTE):  # a note is free text: only the prompt's own buttons match
        return Resolution(next((option.id for option in options
                                if typed in (normalize(name) for name in
                                             (option.title, *option.keywords))), None))
    understood = bool(options) or session.state in _CATALOGUE_STATES
    raw = " ".join(inbound.text.split()).rstrip(_END_PUNCTUATION)
    if looks_numeric(raw):
        if asking.startswith(LINE):  # a number typed for a cart line is its new quantity
            number = read_number(raw)
            if number.value is None or number.value > MAX_QUANTITY:
                return Resolution(hint=number.hint or _("Please type 0 to {most}.",
                                                        most=MAX_QUANTITY))
            return Resolution(f"quantity:{number.value}")
        if not understood:
            return Resolution()
        number = read_number(raw)
        if number.value is None:
            return Resolution(hint=number.hint)
        if 1 <= number.value <= len(options):
            return Resolution(options[number.value - 1].id)
        return Resolution(hint=_("Please pick a number from 1 to {most}.", most=len(options))
                          if options else None)
    choice = _choice(typed, session, options, catalogue)
    if choice is not None or not understood:
        return Resolution(choice)
    # Not an option as typed: perhaps an item with a quantity.
    split = split_quantity(raw)
    if split is None:
        return Resolution()
    token, name = split
    choice = _choice(normalize(name), session, options, catalogue)
    if choice is None or not choice.startswith("item:"):
        return Resolution()
    number = read_number(token)
    if number.value is None:
        return Resolution(hint=number.hint)
    if not 1 <= number.value <= MAX_QUANTITY:
        return Resolution(hint=_("You can add 1 to {most} at a time.", most=MAX_QUANTITY))
    return Resolution(choice, number.value)


def _choice(typed: str, session: Session, options: tuple[Option, ...],
            catalogue: Restaurant) -> str | None:
    if not typed:
        return None
    for option in options:
        names = (option.title, *option.keywords)
        if any(normalize(name) == typed for name in names):
            return option.id
    # An add-on by part of its name ("cheese" for "Extra cheese"), when only one has it.
    words = set(typed.split())
    partial = [option.id for option in options if option.id.startswith("addon:")
               and any(words <= set(normalize(name).split())
                       for name in (option.title, *option.keywords))]
    if len(partial) == 1:
        return partial[0]
    if session.state in _CATALOGUE_STATES:
        return _catalogue_choice(typed, catalogue)
    return None


def names_menu_entry(raw: str, restaurant: Restaurant) -> bool:
    """Whether ``raw`` names one of the restaurant's categories or items, with or without a
    quantity (``"2 margherita"``, ``"Pizzas"``), in any of its languages."""
    split = split_quantity(raw)
    return _catalogue_choice(normalize(split[1] if split else raw), restaurant) is not None


def _catalogue_choice(typed: str, restaurant: Restaurant) -> str | None:
    """A category or item named in any of the restaurant's languages."""
    for category in restaurant.menu:
        if category.id == typed or any(normalize(title) == typed
                                       for title in category.texts("title")):
            return f"category:{category.id}"
    for category in restaurant.menu:
        for item in category.items:
            if item.id == typed or any(normalize(name) == typed for name in item.texts("name")):
                return f"item:{item.id}"
    return None
