"""``bot.py serve`` without the message log: a benchmark-only build, never a mode of the product.

    python -m bench.serve_without_log serve -c config.yaml --db FILE --host H --port P

Runs the product's own command line (:func:`routes.cli.main`, what ``bot.py``
runs: the same arguments, environment, logging, GC tuning, app and server)
with one change: a SQLite file is opened as :class:`StoreWithoutLog`, which
drops ``Changes.log`` and ``Changes.conversation`` before committing, so no
``messages`` row and no ``conversations`` record is ever written. Everything
else a commit carries (snapshot, inbox mark, outbox, orders) is committed as
the product does. :mod:`bench.log_cost` runs the same customers against both
to price the log.

The conversation still asks the store for the customer's staff record on
every message (the bot gate); it just never finds one, so no conversation
is treated as taken over.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from routes import cli, cli_base
from storage.base import Changes, OutboxRecord, SessionStore
from storage.sqlite import SQLiteStore


class StoreWithoutLog(SQLiteStore):
    """The product's SQLite store, minus the message log and the conversation records."""

    async def commit(self, changes: Changes) -> list[OutboxRecord]:
        return await super().commit(dataclasses.replace(changes, log=[], conversation=None))


def open_store_without_log(db_path: Path | cli_base.DatabaseUrl, *,
                           create: bool = True) -> SessionStore:
    """:func:`routes.cli_base.open_store`, with a SQLite file opened as :class:`StoreWithoutLog`."""
    if isinstance(db_path, Path) and str(db_path) != cli_base.MEMORY_DB:
        return StoreWithoutLog(db_path)  # not opened yet: the caller opens it
    raise SystemExit("bench.serve_without_log serves a SQLite file only")


def main(argv: Sequence[str] | None = None) -> int:
    cli_base.open_store = open_store_without_log  # locked_store looks it up at each call
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
