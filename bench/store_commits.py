"""Commits per second of one processing commit, on SQLite and PostgreSQL: a quick comparison.

    python -m bench.store_commits [--url postgresql://…] [--commits 3000]

Each commit is what processing one customer message writes: the processed
mark, a ~300-byte snapshot, a read receipt and a reply in the outbox, two
log rows and the conversation's record (the messages are accepted first,
untimed).  Measured with 1 caller at a time and with 64 concurrent callers
over 200 customers, on a SQLite file in a temporary directory and on
PostgreSQL: ``--url``, else a throwaway server started here (Debian's
binaries, ``fsync`` on, like a real one) and stopped at the end.  Not a
test: figures for a person to read, printed as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from storage.base import Changes, InboxRecord, OutboxMessage, SessionKey, SessionStore
from storage.postgres import PostgresStore
from storage.sqlite import SQLiteStore
from storage.staff import ConversationChange, LoggedMessage
from tests.storage.postgres_server import PostgresServer, find_binaries

CUSTOMERS = 200
NUMBER = "109876543210001"


def message(n: int) -> InboxRecord:
    key = SessionKey("luigis", f"4477009{n % CUSTOMERS:05d}")
    return InboxRecord(f"wamid.bench.{n}", key, NUMBER, key.customer_id, None,
                       1_763_900_000, 1_763_900_000.0 + n, b'{"text": "2 margherita"}')


def processing(record: InboxRecord, n: int) -> Changes:
    key, at = record.key, 1_763_900_000.0 + n
    body = '{"messaging_product":"whatsapp","to":"%s","type":"text","text":{"body":"%s"}}'
    return Changes(
        key, at, snapshot=b"\x85" + bytes(300), inbox_processed=record.message_id,
        outbox=[OutboxMessage(key, NUMBER, body % (key.customer_id, "read"), "read"),
                OutboxMessage(key, NUMBER, body % (key.customer_id, "Added 2 x Margherita"))],
        log=[LoggedMessage("in", "text", "2 margherita", "customer", at, record.message_id),
             LoggedMessage("out", "text", "Added 2 x Margherita", "bot", at, outbox_index=1)],
        conversation=ConversationChange(inbound_at=at, outbound_at=at))


async def rate(make: Callable[[], SessionStore], commits: int, concurrency: int) -> float:
    async with make() as store:
        records = [message(n) for n in range(commits)]
        for start in range(0, commits, 500):
            await store.accept_inbound(records[start:start + 500])
        queue = list(enumerate(records))
        queue.reverse()
        started = time.perf_counter()

        async def worker() -> None:
            while queue:
                n, record = queue.pop()
                await store.commit(processing(record, n))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return commits / (time.perf_counter() - started)


async def compare(url: str, commits: int) -> None:
    print(f"{'store':<12}{'callers':>8}{'commits/s':>12}")
    for concurrency in (1, 64):
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = await rate(partial(SQLiteStore, Path(tmp) / "bench.db"), commits,
                                concurrency)
        schema = f"bench_{concurrency}_{int(time.time())}"
        postgres = await rate(partial(PostgresStore, url, schema=schema, pool_size=16),
                              commits, concurrency)
        print(f"{'sqlite':<12}{concurrency:>8}{sqlite:>12.0f}")
        print(f"{'postgresql':<12}{concurrency:>8}{postgres:>12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL database (default: a throwaway server)")
    parser.add_argument("--commits", type=int, default=3000)
    args = parser.parse_args()
    if args.url:
        asyncio.run(compare(args.url, args.commits))
        return
    bindir = find_binaries()
    if bindir is None:
        raise SystemExit("no PostgreSQL binaries found: give --url")
    server = PostgresServer(bindir, fsync=True)
    server.start()
    try:
        asyncio.run(compare(server.url, args.commits))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
