"""CPU per message of the conversation alone: no HTTP, no Graph, one process.

    python -m bench.processing [--db :memory:|FILE] [--customers 200] [--repeat 5]

The same customers as the end-to-end run (``bench.customers``: whole pickup
and delivery orders at Luigi's) are fed straight into the inbox processor
``serve`` runs — accepted into the store, processed, committed (inbox mark,
snapshot, outbox rows, message log, conversation record) — with the hooks
``serve`` installs (metrics, live events) and the sender's hand-over
replaced by a list.  Each repeat uses new customers on the same store.
Prints the main thread's and the whole process's CPU per message, the best
of ``--repeat`` rounds (the least disturbed by whatever else the machine
runs), as a line of text and one JSON object.

A deterministic figure for changes to the conversation's own cost, which
the end-to-end runs measure only through the noise of HTTP, two processes
and a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bench.customers import PIN, WALKS, is_tap
from fsm.config import AppConfig, parse_config
from routes.conversation.flow import conversation_dispatcher
from routes.conversation.gate import ControlsCache
from routes.conversation.messages import Inbound, Location
from routes.staff.events import EventHub
from routes.staff.hooks import ConversationHooks
from routes.staff.metrics import Metrics
from routes.whatsapp.inbox import InboxProcessor, encode_inbound
from storage.base import InboxRecord, OutboxRecord, SessionKey, SessionStore
from storage.memory import MemoryStore
from storage.sqlite import SQLiteStore

REPO: Final = Path(__file__).resolve().parents[1]
RESTAURANT: Final = "luigis"
PIN_LOCATION: Final = Location(51.507351, -0.127758, None, "Trafalgar Sq, London WC2N 5DN")


def inbound_for(step: str) -> Inbound:
    """What a customer's walk step is as the processor receives it."""
    if step == PIN:
        return Inbound.pin(PIN_LOCATION)
    if is_tap(step):
        return Inbound.tapped(step)
    return Inbound.typed(step)


def messages(config: AppConfig, customers: int, round_no: int) -> list[InboxRecord]:
    """Every message of ``customers`` new customers, each walking one whole order."""
    restaurant = config.restaurant(RESTAURANT)
    assert restaurant is not None
    now = time.time()
    records = []
    for n in range(customers):
        wa_id = f"44{round_no:03d}{n:07d}"
        key = SessionKey(RESTAURANT, wa_id)
        for step_no, step in enumerate(WALKS[n % len(WALKS)]):
            records.append(InboxRecord(
                f"wamid.PROC{round_no:03d}x{n:07d}x{step_no:02d}", key,
                restaurant.phone_number_id, wa_id, None, int(now), now,
                encode_inbound(inbound_for(step))))
    return records


async def one_round(config: AppConfig, store: SessionStore, customers: int,
                    round_no: int) -> tuple[int, float, float, int]:
    """(messages, main-thread CPU s, process CPU s, outbox rows) of one round."""
    records = messages(config, customers, round_no)
    sent: list[OutboxRecord] = []

    def hand_over(key: SessionKey, rows: list[OutboxRecord]) -> None:
        sent.extend(rows)

    dispatcher = conversation_dispatcher(config, store, controls=ControlsCache(store))
    hooks = ConversationHooks(config, EventHub(), Metrics(), hand_over)
    hooks.install(dispatcher)
    inbox = InboxProcessor(config, store, dispatcher, on_committed=hooks.on_committed)
    for start in range(0, len(records), 100):  # accepted as webhooks would, untimed
        await store.accept_inbound(records[start:start + 100])
    thread, process = time.thread_time(), time.process_time()
    for record in records:
        inbox.submit(record)
    await inbox.drain()
    thread, process = time.thread_time() - thread, time.process_time() - process
    if inbox.processed != len(records):
        raise SystemExit(f"only {inbox.processed} of {len(records)} messages were processed")
    return len(records), thread, process, len(sent)


async def measure(db: str, customers: int, repeat: int) -> dict[str, float | int | str]:
    config = parse_config((REPO / "config.yaml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="orderbot-processing-") as tmp:
        store: SessionStore = (MemoryStore() if db == ":memory:"
                               else SQLiteStore(db or str(Path(tmp) / "processing.db")))
        async with store:
            rounds = [await one_round(config, store, customers, n) for n in range(repeat + 1)]
    rounds = rounds[1:]  # the first warms caches, imports and the menu's lookups
    count, replies = rounds[0][0], rounds[0][3]
    return {
        "db": db or "SQLite file",
        "messages_per_round": count,
        "outbox_rows_per_message": replies / count,
        "main_us_per_msg": 1e6 * min(thread for _, thread, _, _ in rounds) / count,
        "process_us_per_msg": 1e6 * min(process for _, _, process, _ in rounds) / count,
        "rounds": repeat,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.processing",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="", help="':memory:' or a SQLite file "
                        "(default: a new file in a temp dir)")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args.db, args.customers, args.repeat))
    print(f"{figures['db']}: {figures['main_us_per_msg']:.0f} us of main-thread CPU per "
          f"message ({figures['process_us_per_msg']:.0f} us the whole process), "
          f"{figures['outbox_rows_per_message']:.2f} outbox rows per message, best of "
          f"{figures['rounds']} rounds of {figures['messages_per_round']:,} messages",
          file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
