"""Channel-neutral messages: what a customer sends, what the bot answers.

Outgoing messages are built only through the constructors here, which apply
the WhatsApp Cloud API limits (Meta's "Messages" reference for the Cloud API:
text body ≤ 4,096 characters; interactive body ≤ 1,024 — Meta allows a list
4,096, we keep every interactive body to 1,024; ≤ 3 reply buttons with titles
≤ 20; list rows ≤ 10 with titles ≤ 24 and descriptions ≤ 72): counts and ids
are checked, titles and descriptions clipped with an ellipsis, so nothing the
bot builds can be rejected by Meta for its shape.

A body the customer must read in full before deciding (an order summary, a
long cart) is never clipped: :func:`split_body` sends it as text messages
(split at line ends) followed by a short prompt carrying the buttons.

Lengths are counted by :func:`wa_len` in UTF-16 code units, as WhatsApp's
clients and Meta's validators (JavaScript and Java strings) count characters:
an emoji outside the Basic Multilingual Plane (📍) counts 2, an accented letter
1. That count is never below the count of code points, so a body within a
limit by it is within the limit whichever way "characters" is read.

In a language written right to left every line, title and description is
marked so (:func:`~routes.conversation.i18n.rtl`) before it is measured and
clipped: the mark counts against the limits like any other character.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from routes.conversation.i18n import _, rtl

TEXT_BODY_MAX: Final = 4096
INTERACTIVE_BODY_MAX: Final = 1024
LIST_BODY_MAX: Final = INTERACTIVE_BODY_MAX  # Meta: 4,096 for lists; we keep to 1,024
HEADER_FOOTER_MAX: Final = 60
BUTTON_TITLE_MAX: Final = 20
BUTTON_ID_MAX: Final = 256
BUTTONS_MAX: Final = 3
LIST_BUTTON_MAX: Final = 20
ROW_TITLE_MAX: Final = 24
ROW_ID_MAX: Final = 200
ROW_DESCRIPTION_MAX: Final = 72
SECTION_TITLE_MAX: Final = 24
LIST_ROWS_MAX: Final = 10
LIST_SECTIONS_MAX: Final = 10


def wa_len(text: str) -> int:
    """``text``'s length as WhatsApp counts it: UTF-16 code units (see the module's note)."""
    if text.isascii():
        return len(text)
    # Characters beyond the BMP are two UTF-16 units (surrogates pass: storage bounds them).
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (:func:`wa_len`), ending in an ellipsis when cut."""
    text = text.strip()
    if wa_len(text) <= limit:
        return text
    cut = text[: limit - 1]
    while wa_len(cut) > limit - 1:
        cut = cut[:-1]
    return cut.rstrip() + "…"


def split_text(body: str, limit: int = TEXT_BODY_MAX) -> list[TextMessage]:
    """``body`` as text messages of at most ``limit`` characters each, nothing dropped.

    Split at line ends where it can, inside a line only when one line alone
    is too long.
    """
    messages: list[str] = []
    current = ""
    for line in body.strip().split("\n"):
        while wa_len(line) > limit:
            head = line[:limit]
            while wa_len(head) > limit:
                head = head[:-1]
            if current:
                messages.append(current)
                current = ""
            messages.append(head)
            line = line[len(head):]
        candidate = f"{current}\n{line}" if current else line
        if wa_len(candidate) > limit:
            messages.append(current)
            candidate = line
        current = candidate
    if current or not messages:
        messages.append(current)
    return [TextMessage(message) for message in messages]


# --- inbound ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One customer message, whatever channel it came from.

    ``kind`` is ``text`` (typed), ``choice`` (a tapped button or list row,
    ``choice_id`` set, ``text`` its title), ``location``, ``unsupported``
    (images, voice notes… the flow cannot use; ``text`` names the channel's
    type when known: ``voice``, ``audio``, ``image``, ``sticker``, ``video``,
    ``document``, ``contacts``), or ``notice`` (something nobody typed, such
    as WhatsApp announcing a number change: ``choice_id`` names it, e.g.
    ``system:user_changed_number``, and ``text`` holds the new number).
    """

    kind: Literal["text", "choice", "location", "unsupported", "notice"]
    text: str = ""
    choice_id: str | None = None
    location: Location | None = None

    @classmethod
    def typed(cls, text: str) -> Inbound:
        return cls("text", text=text)

    @classmethod
    def tapped(cls, choice_id: str, title: str = "") -> Inbound:
        return cls("choice", text=title, choice_id=choice_id)

    @classmethod
    def pin(cls, location: Location) -> Inbound:
        return cls("location", location=location)


# --- outbound --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Option:
    """A choice offered to the customer: a reply button or a list row.

    ``keywords`` are extra words that select it when typed (the full name
    when the shown title had to be clipped).
    """

    id: str
    title: str
    description: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    title: str | None
    rows: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class TextMessage:
    body: str


@dataclass(frozen=True, slots=True)
class ButtonsMessage:
    body: str
    buttons: tuple[Option, ...]
    header: str | None = None
    footer: str | None = None


@dataclass(frozen=True, slots=True)
class ListMessage:
    body: str
    button: str
    sections: tuple[Section, ...]
    header: str | None = None
    footer: str | None = None


@dataclass(frozen=True, slots=True)
class LocationRequest:
    body: str


Outgoing = TextMessage | ButtonsMessage | ListMessage | LocationRequest


def text(body: str) -> TextMessage:
    return TextMessage(clip(rtl(body), TEXT_BODY_MAX))


def location_request(body: str) -> LocationRequest:
    return LocationRequest(clip(rtl(body), INTERACTIVE_BODY_MAX))


def buttons(body: str, options: Sequence[Option], *, header: str | None = None,
            footer: str | None = None) -> ButtonsMessage:
    if not 1 <= len(options) <= BUTTONS_MAX:
        raise ValueError(f"reply buttons take 1 to {BUTTONS_MAX} options, got {len(options)}")
    _check_ids(options, BUTTON_ID_MAX)
    return ButtonsMessage(
        body=clip(rtl(body), INTERACTIVE_BODY_MAX),
        buttons=tuple(_clipped(option, BUTTON_TITLE_MAX, keep_description=False)
                      for option in options),
        header=None if header is None else clip(rtl(header), HEADER_FOOTER_MAX),
        footer=None if footer is None else clip(rtl(footer), HEADER_FOOTER_MAX),
    )


def list_message(body: str, button: str, sections: Sequence[Section], *,
                 header: str | None = None, footer: str | None = None) -> ListMessage:
    sections = [section for section in sections if section.rows]
    rows = [row for section in sections for row in section.rows]
    if not rows or len(rows) > LIST_ROWS_MAX:
        raise ValueError(f"a list takes 1 to {LIST_ROWS_MAX} rows, got {len(rows)}")
    if len(sections) > LIST_SECTIONS_MAX:
        raise ValueError(f"a list takes at most {LIST_SECTIONS_MAX} sections")
    _check_ids(rows, ROW_ID_MAX)
    # Meta requires a title on every section once there is more than one.
    need_titles = len(sections) > 1
    return ListMessage(
        body=clip(rtl(body), LIST_BODY_MAX),
        button=clip(rtl(button), LIST_BUTTON_MAX),
        sections=tuple(
            Section(
                title=clip(rtl(section.title or _("Options")), SECTION_TITLE_MAX)
                if need_titles or section.title else None,
                rows=tuple(_clipped(row, ROW_TITLE_MAX) for row in section.rows),
            )
            for section in sections
        ),
        header=None if header is None else clip(rtl(header), HEADER_FOOTER_MAX),
        footer=None if footer is None else clip(rtl(footer), HEADER_FOOTER_MAX),
    )


def choice(body: str, options: Sequence[Option], *, button: str | None = None) -> Outgoing:
    """Reply buttons when the options fit on buttons, otherwise a one-section list."""
    fits_buttons = len(options) <= BUTTONS_MAX and all(
        wa_len(rtl(option.title)) <= BUTTON_TITLE_MAX and option.description is None
        for option in options)
    if fits_buttons:
        return buttons(body, options)
    return list_message(body, button or _("Choose"), [Section(None, tuple(options))])


def split_body(body: str, prompt: str, build: Callable[[str], Outgoing],
               limit: int = INTERACTIVE_BODY_MAX) -> tuple[Outgoing, ...]:
    """An interactive message with ``body``, or, when ``body`` is over ``limit``, the body as
    text (:func:`split_text`) then the interactive message with the short ``prompt``.

    ``build`` makes the interactive message from a body. For what the customer
    must see whole before choosing: nothing is clipped.
    """
    if wa_len(rtl(body.strip())) <= limit:
        return (build(body),)
    return (*split_text(rtl(body)), build(prompt))


def options_of(message: Outgoing) -> tuple[Option, ...]:
    """The options of a message, in the order they are shown and numbered."""
    if isinstance(message, ButtonsMessage):
        return message.buttons
    if isinstance(message, ListMessage):
        return tuple(row for section in message.sections for row in section.rows)
    return ()


def with_preamble(preamble: str, message: Outgoing) -> Outgoing:
    """``message`` with ``preamble`` put before its body, within the body limit."""
    if not preamble:
        return message
    preamble = rtl(preamble)
    if isinstance(message, TextMessage):
        return text(f"{preamble}\n\n{message.body}")
    limit = LIST_BODY_MAX if isinstance(message, ListMessage) else INTERACTIVE_BODY_MAX
    body = f"{preamble}\n\n{message.body}"
    if wa_len(body) > limit:
        raise ValueError("preamble does not fit")
    if isinstance(message, ButtonsMessage):
        return ButtonsMessage(body, message.buttons, message.header, message.footer)
    if isinstance(message, ListMessage):
        return ListMessage(body, message.button, message.sections, message.header,
                           message.footer)
    return LocationRequest(body)


def _clipped(option: Option, title_max: int, *, keep_description: bool = True) -> Option:
    title = clip(rtl(option.title), title_max)
    keywords = option.keywords if title == option.title else (*option.keywords, option.title)
    description = option.description if keep_description else None
    if description is not None:
        description = clip(rtl(description), ROW_DESCRIPTION_MAX)
    return Option(option.id, title, description, keywords)


def _check_ids(options: Sequence[Option], id_max: int) -> None:
    ids = [option.id for option in options]
    if len(set(ids)) != len(ids):
        raise ValueError(f"option ids must be unique: {ids}")
    too_long = [option_id for option_id in ids if not 1 <= len(option_id) <= id_max]
    if too_long:
        raise ValueError(f"option ids must be 1 to {id_max} characters: {too_long}")
