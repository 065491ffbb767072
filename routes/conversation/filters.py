"""Filters for :meth:`routes.conversation.router.Router.message`.

``ctx.choice`` is the interactive id the message selected: the id of a tapped
button or row, or the option a typed number or title named (resolved before
routing against the options of the current step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from routes.conversation.matching import normalize

if TYPE_CHECKING:
    from routes.conversation.context import Context


@dataclass(frozen=True, slots=True)
class Command:
    """Typed text equal to one of ``words`` as :func:`~routes.conversation.matching.normalize`
    compares them (case, accents, punctuation and Arabic letter variants aside)."""

    words: frozenset[str]

    def __init__(self, *words: str) -> None:
        normalized = (normalize(word) for word in words)
        object.__setattr__(self, "words", frozenset(word for word in normalized if word))

    def __call__(self, ctx: Context) -> bool:
        return ctx.inbound.kind == "text" and ctx.normalized_text in self.words


@dataclass(frozen=True, slots=True)
class ChoiceId:
    """The selected option's id starts with ``prefix`` (``item:``) or equals it."""

    prefix: str

    def __call__(self, ctx: Context) -> bool:
        return ctx.choice is not None and ctx.choice.startswith(self.prefix)


def is_location(ctx: Context) -> bool:
    return ctx.inbound.kind == "location"


def is_text(ctx: Context) -> bool:
    """Typed text that did not select an option."""
    return ctx.inbound.kind == "text" and ctx.choice is None and bool(ctx.normalized_text)


def is_unsupported(ctx: Context) -> bool:
    return ctx.inbound.kind == "unsupported"


def any_message(ctx: Context) -> bool:
    return True
