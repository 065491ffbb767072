"""The commands that inspect or change stored data: sessions, diagram, staff, orders, db, doctor."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final, TextIO

from fsm.config import AppConfig
from fsm.machine import ORDER_FLOW, MachineSpec
from fsm.migrations import migrate_snapshot
from fsm.order_lifecycle import ORDER_LIFECYCLE
from routes.cli_base import (
    MEMORY_DB,
    DatabaseUrl,
    UsageError,
    database_path,
    load_config,
    open_store,
    pick_restaurant,
    postgres_backend,
    postgres_url,
)
from routes.diagram import GraphvizError, render_diagram
from routes.ops import views
from routes.ops.doctor import report, run_checks
from routes.staff import cli as staff_cli
from storage.base import SessionKey
from storage.codec import decode_snapshot
from storage.errors import DatabaseInUse
from storage.lock import InstanceLock
from storage.sqlite import SQLiteStore

MACHINES: Final[dict[str, MachineSpec]] = {"conversation": ORDER_FLOW, "order": ORDER_LIFECYCLE}


async def sessions(config: AppConfig, db_path: Path, args: argparse.Namespace,
                   out: TextIO) -> None:
    """``sessions list|show|reset`` (what they print: routes/ops/views.py)."""
    store = SQLiteStore(db_path)
    await store.open()
    try:
        if args.action == "list":
            await views.sessions_list(store, config, args.restaurant, args.limit, args.json,
                                      out)
            return
        if not args.customer:
            raise UsageError(f"sessions {args.action} needs --customer")
        key = SessionKey(pick_restaurant(config, args.restaurant).id, args.customer)
        if args.action == "show":
            if not await views.sessions_show(store, config, key, args.json, out):
                raise UsageError(f"no stored conversation for {key.customer_id}")
        else:
            # A running serve or chat would go on from its cached copy.
            with InstanceLock(db_path):
                deleted = await store.delete_session(key)
            out.write("reset\n" if deleted else "no stored conversation\n")
    finally:
        await store.close()


async def stored_state(args: argparse.Namespace) -> str:
    """The state of ``--customer``'s stored conversation, migrated as the bot would resume it."""
    config = load_config(args.config)
    db_path = database_path(args.config, config, args.db)
    if not db_path.is_file():
        raise UsageError(f"{db_path}: no such database")
    key = SessionKey(pick_restaurant(config, args.restaurant).id, args.customer)
    store = SQLiteStore(db_path)
    await store.open()
    try:
        blob = await store.load_snapshot(key)
    finally:
        await store.close()
    if blob is None:
        raise UsageError(f"no stored conversation for customer {key.customer_id!r} "
                         f"of restaurant {key.restaurant_id!r} in {db_path}")
    state = migrate_snapshot(decode_snapshot(blob)).get("state")
    if not isinstance(state, str):
        raise UsageError(f"the stored conversation of {key.customer_id!r} has no state")
    return state


def diagram(args: argparse.Namespace, out: BinaryIO) -> None:
    """Write the state diagram to ``-o`` or ``out``; ``-o x.md`` updates that file's block."""
    if args.customer is not None and args.highlight is not None:
        raise UsageError("give --highlight or --customer, not both")
    if args.customer is not None and args.machine != "conversation":
        raise UsageError("--customer highlights a conversation; it needs --machine conversation")
    spec = MACHINES[args.machine]
    highlight = asyncio.run(stored_state(args)) if args.customer is not None else args.highlight
    output: Path | None = args.output
    try:
        markdown = None
        if args.format == "mermaid" and output is not None and output.suffix == ".md":
            markdown = output.read_text(encoding="utf-8")
        data = render_diagram(spec, args.format, highlight, markdown)
        if output is None:
            out.write(data)
            out.flush()
        else:
            output.write_bytes(data)
    except (ValueError, GraphvizError) as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(f"{output or 'stdout'}: {exc.strerror}") from exc


async def staff_and_orders(config: AppConfig, db_path: Path | DatabaseUrl,
                           args: argparse.Namespace, env: Mapping[str, str],
                           out: TextIO) -> None:
    """``staff add|list|revoke`` and ``orders list|show|move`` (see routes/staff/cli.py).

    On a SQLite file ``orders move`` needs ``serve`` stopped (it caches and
    sends) or ``--url``; on PostgreSQL, which the instances share while they
    run, everything but ``orders move`` works beside them, and a move goes
    through one of them (``--url``), which tells the customer.
    """
    restaurant = args.restaurant
    if args.command == "orders" and args.action == "move" and args.url:
        token = env.get("ORDERBOT_ADMIN_TOKEN") or env.get("ORDERBOT_TOKEN")
        if not token or not args.reference or not args.status_to or not restaurant:
            raise UsageError("orders move --url needs REFERENCE STATUS, --restaurant and "
                             "ORDERBOT_ADMIN_TOKEN (or a staff token in ORDERBOT_TOKEN)")
        await staff_cli.orders_move_remote(args.url, token, restaurant, args.reference,
                                           args.status_to, args.reason, out)
        return
    needs = {("staff", "add"): ("restaurant", "name"),
             ("staff", "revoke"): ("restaurant", "name"),
             ("orders", "show"): ("restaurant", "reference"),
             ("orders", "move"): ("restaurant", "reference", "status_to")}
    missing = [name for name in needs.get((args.command, args.action), ())
               if not getattr(args, name)]
    if missing:
        raise UsageError(f"{args.command} {args.action} needs "
                         + ", ".join(name.replace("status_to", "STATUS") for name in missing))
    moving = args.command == "orders" and args.action == "move"
    if moving and isinstance(db_path, DatabaseUrl):
        raise UsageError("orders move on PostgreSQL goes through a running instance: add "
                         "--url http://HOST:PORT (with ORDERBOT_ADMIN_TOKEN or ORDERBOT_TOKEN)")
    with contextlib.ExitStack() as held:
        if moving:
            assert isinstance(db_path, Path)
            try:
                held.enter_context(InstanceLock(db_path))  # serve caches and sends
            except DatabaseInUse as exc:
                holder = (f"orderbot process {exc.holder}" if exc.holder.isdigit()
                          else "another orderbot process")
                raise UsageError(
                    f"{db_path} is in use by {holder} (serve or chat): while serve runs, "
                    "move orders through it (it tells the customer): add --url "
                    "http://HOST:PORT, with ORDERBOT_ADMIN_TOKEN or a staff token in "
                    "ORDERBOT_TOKEN") from exc
        async with open_store(db_path, create=False) as store:
            if args.command == "staff":
                if args.action == "add":
                    await staff_cli.staff_add(store, config, restaurant, args.name, out)
                elif args.action == "list":
                    await staff_cli.staff_list(store, restaurant, out)
                else:
                    await staff_cli.staff_revoke(store, config, restaurant, args.name, out)
            elif args.action == "list" and args.json:
                restaurants = ([staff_cli.restaurant_of(config, restaurant)] if restaurant
                               else list(config.restaurants))
                await views.orders_list_json(store, restaurants, args.status, args.limit, out)
            elif args.action == "list":
                await staff_cli.orders_list(store, config, restaurant, args.status, args.limit,
                                            out)
            elif args.action == "show" and args.json:
                if not await views.order_show_json(
                        store, staff_cli.restaurant_of(config, restaurant), args.reference, out):
                    raise UsageError(f"{restaurant} has no order {args.reference!r}")
            elif args.action == "show":
                await staff_cli.orders_show(store, config, restaurant, args.reference, out)
            else:
                await staff_cli.orders_move_local(store, config, restaurant, args.reference,
                                                  args.status_to, args.reason, out)


async def db_migrate(db: Path | DatabaseUrl, out: TextIO) -> None:
    """``db migrate``: create or upgrade the schema (a SQLite file is upgraded when opened)."""
    if isinstance(db, Path):
        if str(db) == MEMORY_DB:
            raise UsageError(f"--db {MEMORY_DB} keeps nothing to migrate")
        async with SQLiteStore(db):
            out.write(f"{db}: schema up to date (SQLite files are upgraded when opened)\n")
        return
    before, after = await postgres_backend().migrate_database(db.url)
    if before is None:
        out.write(f"{db}: schema created at version {after}\n")
    elif before == after:
        out.write(f"{db}: schema already at version {after}\n")
    else:
        out.write(f"{db}: schema upgraded from version {before} to {after}\n")


async def doctor(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    """``doctor``: the go-live checklist (routes/ops/doctor.py); 1 if anything failed."""
    def database(config: AppConfig) -> Path | tuple[str, str]:
        url = postgres_url(args.db, env)
        return (url.url, str(url)) if url else database_path(args.config, config, args.db)

    checks = await run_checks(partial(load_config, args.config), args.config, database, env)
    return report(checks, out)
