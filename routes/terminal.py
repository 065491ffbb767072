"""The terminal channel: chat line by line, replies shown with numbered options."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TextIO

from fsm.config import Restaurant
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.messages import (
    ButtonsMessage,
    Inbound,
    ListMessage,
    Location,
    LocationRequest,
    Outgoing,
    TextMessage,
)
from storage.base import SessionStore
from storage.errors import StorageError

logger = logging.getLogger(__name__)

LOCATION_HINT = "(share a pin with: /location LATITUDE LONGITUDE [label])"

# Opens the store and a dispatcher on it; called again by /restart.
Connect = Callable[[], Awaitable[tuple[SessionStore, Dispatcher]]]


async def chat_loop(restaurant: Restaurant, customer: str, lines: TextIO, out: TextIO,
                    connect: Connect, *, language: str | None = None) -> None:
    """Read ``lines`` as ``customer``'s messages; every one is committed before its reply prints.

    ``/restart`` closes the store and drops every object in memory, as a
    process restart would; ``/quit`` or the end of input leaves. ``language``
    (``--lang ar``) is what a customer who has not chosen a language is spoken
    to in; the conversation's ``language`` command still switches.
    """
    interactive = lines.isatty()
    store, dispatcher = await connect()
    out.write("Type a message, an option's number, /restart or /quit.\n")
    out.flush()
    loop = asyncio.get_running_loop()
    try:
        while True:
            if interactive:
                out.write("you> ")
                out.flush()
            line = await loop.run_in_executor(None, lines.readline)
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if not interactive:
                out.write(f"you> {line}\n")
            if line == "/quit":
                break
            if line == "/restart":
                await store.close()
                store, dispatcher = await connect()
                out.write("(restarted: everything in memory dropped, database reopened)\n")
                out.flush()
                continue
            try:
                replies = await dispatcher.feed(restaurant, customer, parse_line(line),
                                                language=language)
            except StorageError as exc:
                logger.error("could not save the conversation: %s", exc)
                out.write("bot> Sorry, I couldn't save that. Please send it again.\n")
                out.flush()
                continue
            for reply in replies:
                out.write("bot> " + render(reply).replace("\n", "\n     ") + "\n")
            out.flush()
    finally:
        await store.close()


def render(message: Outgoing) -> str:
    """``message`` as lines of text; options numbered 1, 2, 3… across sections."""
    if isinstance(message, TextMessage):
        return message.body
    if isinstance(message, LocationRequest):
        return f"{message.body}\n  {LOCATION_HINT}"
    lines = [message.header] if message.header else []
    lines.append(message.body)
    if isinstance(message, ButtonsMessage):
        lines.extend(f"  {number}. {option.title}"
                     for number, option in enumerate(message.buttons, start=1))
    else:
        lines.extend(_list_lines(message))
    if message.footer:
        lines.append(message.footer)
    return "\n".join(lines)


def _list_lines(message: ListMessage) -> list[str]:
    lines: list[str] = []
    number = 0
    for section in message.sections:
        if section.title and len(message.sections) > 1:
            lines.append(f"  [{section.title}]")
        for row in section.rows:
            number += 1
            detail = f" — {row.description}" if row.description else ""
            lines.append(f"  {number}. {row.title}{detail}")
    return lines


def parse_line(line: str) -> Inbound:
    """A typed terminal line as an inbound message.

    ``/location LAT LON [label]`` shares a pin; ``/tap ID`` taps an interactive
    id directly (as an old button would); anything else is typed text.
    """
    command, _, rest = line.strip().partition(" ")
    if command == "/tap" and rest.strip():
        return Inbound.tapped(rest.strip())
    if command == "/location":
        parts = rest.split(maxsplit=2)
        try:
            latitude, longitude = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            return Inbound.typed(line)
        if -90 <= latitude <= 90 and -180 <= longitude <= 180:
            label = parts[2] if len(parts) > 2 else None
            return Inbound.pin(Location(latitude, longitude, address=label))
    return Inbound.typed(line)
