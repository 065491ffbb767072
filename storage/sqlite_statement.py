"""The shape of a write the SQLite writer runs: :class:`Statement`, its parameters, helpers.

Shared by :mod:`storage.sqlite_schema` (the conversations' statements and the
statement order) and :mod:`storage.sqlite_staff` (the restaurant's), which
both build ``(statement, parameters)`` operations for
:mod:`storage.sqlite_writer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeAlias

from storage.records import SessionKey

Params: TypeAlias = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    """A write, for one row or, when it has a ``row`` part, for many rows at once.

    ``head + row + tail`` is the one-row statement; ``head``, then ``row``
    repeated once per row (comma separated), then ``tail`` writes several
    rows in one execution.  The writer uses that form: SQLite runs it in one
    step, where ``executemany`` steps (and gives up and takes back Python's
    GIL) once per row, which under load costs far more than the step.
    Without ``row``, ``head`` is the whole statement, run once per row.
    """

    head: str
    row: str | None = None
    tail: str = ""

    def sql(self, rows: int = 1) -> str:
        if self.row is None:
            return self.head
        return self.head + ", ".join([self.row] * rows) + self.tail


Operation: TypeAlias = tuple[Statement, Params]


def key_params(key: SessionKey) -> tuple[str, str]:
    return (key.restaurant_id, key.customer_id)


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
