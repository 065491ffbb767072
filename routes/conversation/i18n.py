"""Customer-facing text in the customer's language: gettext catalogs, Babel formatting.

Every text a customer reads is written in English in the code, marked for
extraction, and looked up in the catalog of the conversation's language when
it is built:

- ``_("Added {item}.", item=name)`` translates, then fills the ``{placeholders}``;
- ``_n("{count} item", "{count} items", n)`` picks the plural form the language
  needs (Arabic has six) and fills ``{count}`` with ``n`` as the locale writes it;
- ``N_("…")`` only marks a text kept in a constant, translated where it is used;
- ``_k("yes|go on")`` gives the words that select an option when typed, English's
  and the language's own.

The catalogs live in ``locale/<language>/LC_MESSAGES/messages.po`` beside this
module, compiled to ``messages.mo`` (both committed, shipped as package data;
``python -m routes.conversation.catalogs`` re-extracts, updates and compiles
them; a test fails when they are incomplete, fuzzy, stale or not compiled).
English is the source language: its text is the msgids themselves.

The language is the conversation's (:func:`language_of`), set for the handling
of one message with :func:`speaking` — a :class:`~contextvars.ContextVar`, so
concurrent conversations never see each other's. Money, numbers and times are
formatted by Babel for the language's locale. Digits: ``ar`` is CLDR's generic
Arabic, whose default numbering system is Latin digits (as in the Gulf and the
Maghreb, and on the restaurants' own price lists); Babel's ``numbering_system``
changes only the symbols around them, never the digits. So replies use Latin
digits in every language, and Arabic-Indic ones are understood when typed.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Final, Protocol

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal

from fsm.languages import LANGUAGES, SOURCE_LANGUAGE
from fsm.money import minor_unit_digits

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "messages"
# The keywords extraction looks for: gettext's own, ours, and the descriptions of the
# commands declared in fsm.machine (the third argument of Command).
KEYWORDS: Final = {"_": None, "N_": None, "_k": None, "_n": (1, 2), "Command": (3,)}
RLM: Final = "\u200f"  # RIGHT-TO-LEFT MARK

_language: ContextVar[str] = ContextVar("customer language", default=SOURCE_LANGUAGE)


class _Session(Protocol):
    @property
    def language(self) -> str | None: ...


class _Speaks(Protocol):
    @property
    def languages(self) -> tuple[str, ...]: ...


def language_of(session: _Session, restaurant: _Speaks) -> str:
    """The language to speak in ``session``: the customer's choice if the restaurant still
    speaks it, else the restaurant's default (its first language)."""
    if session.language in restaurant.languages:
        return session.language
    return restaurant.languages[0]


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language``; raises ``OSError`` if it is missing."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as file:
        return gettext.GNUTranslations(file)


def check_catalogs(languages: tuple[str, ...] = LANGUAGES) -> None:
    """Load every catalog once; raises ``OSError`` naming one that is missing (at start-up)."""
    for language in languages:
        translations(language)


def current() -> str:
    """The language of the message being handled."""
    return _language.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Build text in ``language`` inside the block."""
    token = _language.set(language)
    try:
        yield
    finally:
        _language.reset(token)


def switch_to(language: str) -> None:
    """Speak ``language`` from here to the end of the enclosing :func:`speaking` block."""
    _language.set(language)


def _(message: str, /, **values: object) -> str:
    """``message`` in the current language, its ``{placeholders}`` filled from ``values``."""
    translated = translations(current()).gettext(message)
    return translated.format(**values) if values else translated


def _n(singular: str, plural: str, count: int, /, **values: object) -> str:
    """The plural form for ``count``, with ``{count}`` written as the locale writes it."""
    translated = translations(current()).ngettext(singular, plural, count)
    return translated.format(count=number(count), **values)


def N_(message: str, /) -> str:
    """Mark ``message`` for extraction; it is translated where it is used."""
    return message


@cache
def locale(language: str) -> Locale:
    return Locale.parse(language)


def is_rtl(language: str | None = None) -> bool:
    """Whether ``language`` (the current one by default) is written right to left."""
    return _right_to_left(language or current())


@cache  # asked for every title of every list built: Babel's text_direction is slow
def _right_to_left(language: str) -> bool:
    return locale(language).text_direction == "rtl"


def money(minor: int, currency: str) -> str:
    """Integer minor units of ``currency`` as the current language writes money.

    The amount stays an exact integer until here: it becomes a ``Decimal`` of
    major units only to be formatted.
    """
    return _money(minor, currency, current())


@lru_cache(maxsize=4096)  # menus repeat the same prices on every message; Babel is slow
def _money(minor: int, currency: str, language: str) -> str:
    amount = Decimal(minor).scaleb(-minor_unit_digits(currency))
    return format_currency(amount, currency, locale=locale(language), numbering_system="latn")


def number(value: int) -> str:
    """A whole number as the current language writes it."""
    return _number(value, current())


@lru_cache(maxsize=4096)  # item counts and option numbers recur on every list
def _number(value: int, language: str) -> str:
    return format_decimal(value, locale=locale(language), numbering_system="latn")


def day_and_time(timestamp: float) -> str:
    """A moment in UTC as ``05 May 13:05 UTC``, month and order as the language has them."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return format_datetime(moment, "dd MMM HH:mm", tzinfo=UTC, locale=locale(current())) + \
        " UTC"


def weekday_and_time(moment: datetime) -> str:
    """An aware wall-clock time as ``Monday 11:00``, in the language's words, in its own
    time zone."""
    return format_datetime(moment, "EEEE HH:mm", tzinfo=moment.tzinfo, locale=locale(current()))


def rtl(text: str) -> str:
    """``text`` marked to be shown right to left, line by line, when the current language is
    written so: WhatsApp sets each paragraph's direction from its first strong letter, so a
    line starting with a Latin name (``Margherita``) or a digit would be laid out left to
    right. The mark is one character, counted against WhatsApp's limits like any other."""
    if not text or not is_rtl():
        return text
    return "\n".join(line if not line or line.startswith(RLM) else RLM + line
                     for line in text.split("\n"))


def _k(words: str, /) -> tuple[str, ...]:
    """Words that select an option when typed, written ``"no extras|done"``: the English
    ones and the current language's, which its translators may make as many as they like."""
    english = words.split("|")
    translated = [word for word in translations(current()).gettext(words).split("|")
                  if word not in english]
    return (*english, *translated)
