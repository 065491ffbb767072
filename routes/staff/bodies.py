"""Request bodies and query parameters of the staff API, checked before anything runs.

Bodies are pydantic models that forbid unknown fields; a problem is
:class:`~routes.staff.service.Invalid` naming the field (``body`` when the
JSON itself is bad), which the API answers with ``400``.
"""

from __future__ import annotations

import json
import math
from typing import Final, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from routes.staff.service import Invalid

MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 50
TEXT_MAX: Final = 4096  # WhatsApp's limit for a text message body

Model = TypeVar("Model", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusBody(_Body):
    status: Literal["CONFIRMED", "PREPARING", "READY", "OUT_FOR_DELIVERY", "COMPLETED",
                    "CANCELLED"]
    reason: str | None = Field(default=None, max_length=500)


class ReplyBody(_Body):
    text: str = Field(min_length=1, max_length=TEXT_MAX)


class BotBody(_Body):
    enabled: StrictBool


class AvailabilityBody(_Body):
    available: StrictBool


async def read_body(request: web.Request, model: type[Model]) -> Model:
    """The JSON body as ``model``; :class:`Invalid` naming the field (``body`` for bad JSON)."""
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("body", "not valid JSON") from exc
    if not isinstance(data, dict):
        raise Invalid("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise Invalid(field, first["msg"]) from exc


def query_limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid("limit", f"a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def query_number(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise Invalid(name, "a number")
    return value
