"""Rendering replies for a terminal, with options numbered as they can be typed."""

from __future__ import annotations

from routes.messages import (
    ButtonsMessage,
    Inbound,
    ListMessage,
    Location,
    LocationRequest,
    Outgoing,
    TextMessage,
)

LOCATION_HINT = "(share a pin with: /location LATITUDE LONGITUDE [label])"


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
