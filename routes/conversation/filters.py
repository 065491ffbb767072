"""Filters for :meth:`routes.conversation.router.Router.message`.

``ctx.choice`` is the interactive id the message selected: the id of a tapped
button or row, or the option a typed number or title named (resolved before
routing against the options of the current step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routes.conversation.context import Context


@dataclass(frozen=True, slots=True)
class Command:
    """Typed text equal to one of ``words`` (case-insensitive, trimmed)."""

    words: frozenset[str]

    def __init__(self, *words: str) -> None:
        object.__setattr__(self, "words", frozenset(word.lower() for word in words))

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
