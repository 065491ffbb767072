"""orderbot: command line and composition root.

``orderbot …`` (the console script) and ``python bot.py …`` are the same commands:

    python bot.py chat      talk to the bot in the terminal as a customer
    python bot.py sessions  list, show or reset stored conversations
    python bot.py diagram   the conversation's state diagram (mermaid, dot, svg, png)
    python bot.py serve     the WhatsApp Cloud API webhook server
    python bot.py db        create or upgrade the schema (db migrate; PostgreSQL by URL)
    python bot.py staff     add, list or revoke staff tokens for the API
    python bot.py orders    list, show or move orders
    python bot.py doctor    check config, secrets, database, Graph and the token before going live
    python bot.py reload    make the running serve re-read config.yaml (or send it SIGHUP)

Only this module picks concrete backends and reads the environment; ``bot.py``
and the ``orderbot`` console script both call :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final, TextIO

from pydantic import SecretBytes, SecretStr

from fsm.config import AppConfig, Restaurant, parse_config
from fsm.errors import FsmError
from fsm.machine import ORDER_FLOW, MachineSpec
from fsm.migrations import migrate_snapshot
from fsm.order_lifecycle import ORDER_LIFECYCLE
from routes.app import LIVE_CONFIG, create_app, tune_gc
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.flow import conversation_dispatcher
from routes.diagram import GraphvizError, render_diagram
from routes.ops import views
from routes.ops.doctor import report, run_checks
from routes.ops.reload import ReloadError, reload_config, signal_serve
from routes.server import run as run_server
from routes.settings import Settings
from routes.staff import cli as staff_cli
from routes.terminal import chat_loop
from storage.base import SessionKey, SessionStore
from storage.codec import decode_snapshot
from storage.errors import StorageError
from storage.lock import InstanceLock
from storage.memory import MemoryStore
from storage.postgres import PostgresStore, migrate_database
from storage.postgres_connect import is_postgres_url, redact_url
from storage.sqlite import SQLiteStore

logger = logging.getLogger("orderbot")

EXIT_USAGE = 2
MACHINES: Final[dict[str, MachineSpec]] = {"conversation": ORDER_FLOW, "order": ORDER_LIFECYCLE}


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit code 2."""


def load_config(path: Path) -> AppConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read config: {exc.strerror}") from exc
    return parse_config(text, source=str(path))


def database_path(config_path: Path, config: AppConfig, db: str | None) -> Path:
    """``--db`` as given, else ``storage.path`` relative to the config file."""
    if db:
        return Path(db)
    path = Path(config.storage.path)
    return path if path.is_absolute() else config_path.parent / path


MEMORY_DB: Final = ":memory:"


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL database, by URL; shown (logs, errors) without its password."""

    url: str

    def __str__(self) -> str:
        return redact_url(self.url)


def postgres_url(db: str | None, env: Mapping[str, str]) -> DatabaseUrl | None:
    """``--db`` if it is a ``postgresql://`` URL, else ``ORDERBOT_DATABASE_URL`` unless
    ``--db`` names a file; ``None``: SQLite."""
    if db:
        return DatabaseUrl(db) if is_postgres_url(db) else None
    url = env.get("ORDERBOT_DATABASE_URL")
    if not url:
        return None
    if not is_postgres_url(url):
        raise UsageError("ORDERBOT_DATABASE_URL is not a postgresql:// URL")
    return DatabaseUrl(url)


def open_store(db_path: Path | DatabaseUrl) -> SessionStore:
    """The store at ``db_path`` (PostgreSQL by URL, else a SQLite file); ``:memory:`` keeps
    nothing (benchmarks, demos)."""
    if isinstance(db_path, DatabaseUrl):
        return PostgresStore(db_path.url)
    if str(db_path) != MEMORY_DB:
        return SQLiteStore(db_path)
    logger.warning("--db %s: conversations, inbox and outbox live in memory only and are "
                   "LOST on exit. Never run like this in production.", MEMORY_DB)
    return MemoryStore()


def pick_restaurant(config: AppConfig, restaurant_id: str | None) -> Restaurant:
    if restaurant_id is None:
        return config.restaurants[0]
    restaurant = config.restaurant(restaurant_id)
    if restaurant is None:
        known = ", ".join(r.id for r in config.restaurants)
        raise UsageError(f"unknown restaurant {restaurant_id!r} (known: {known})")
    return restaurant


async def chat(config: AppConfig, db_path: Path, restaurant: Restaurant, customer: str,
               lines: TextIO, out: TextIO, language: str | None = None) -> None:
    """Talk to the bot line by line, on the SQLite file at ``db_path``; ``language`` (``--lang``)
    is spoken to a customer who has not chosen one."""
    if language is not None and language not in restaurant.languages:
        raise UsageError(f"{restaurant.id} does not speak {language!r} "
                         f"(its languages: {', '.join(restaurant.languages)})")
    async def connect() -> tuple[SessionStore, Dispatcher]:
        store = SQLiteStore(db_path)
        await store.open()
        return store, conversation_dispatcher(config, store)

    with InstanceLock(db_path):
        out.write(f"Chatting with {restaurant.name} as customer {customer} "
                  f"(database {db_path}).\n")
        await chat_loop(restaurant, customer, lines, out, connect, language=language)


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


def existing_database(db_path: Path, args: argparse.Namespace, config: AppConfig) -> Path:
    """``db_path``, which must exist unless ``--create`` or it is the config's default file.

    A mistyped ``--db`` would otherwise open a new, empty database and show nothing.
    """
    if (str(db_path) == MEMORY_DB or db_path.exists() or getattr(args, "create", False)
            or db_path == database_path(args.config, config, None)):
        return db_path
    raise UsageError(f"{db_path}: no such database (check --db, or give --create to start "
                     "a new one)")


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


def settings_from_environment(config: AppConfig, env: Mapping[str, str],
                              insecure_dev: bool) -> Settings:
    secret = env.get("WHATSAPP_APP_SECRET", "")
    if not secret and not insecure_dev:
        raise UsageError("WHATSAPP_APP_SECRET is not set: refusing to accept unsigned webhooks "
                         "(use --insecure-dev only on a development machine)")
    if not secret:
        logger.warning("INSECURE: --insecure-dev given and WHATSAPP_APP_SECRET unset; "
                       "webhook signatures are NOT checked. Never run like this in production.")
    if not env.get("WHATSAPP_VERIFY_TOKEN"):
        logger.warning("WHATSAPP_VERIFY_TOKEN is not set: Meta's verification of the webhook "
                       "(GET /webhook) will fail, so Meta cannot be pointed at this server")
    if not env.get("WHATSAPP_ACCESS_TOKEN"):
        logger.warning("WHATSAPP_ACCESS_TOKEN is not set: Graph will refuse every reply; "
                       "replies are kept pending and /healthz answers 503 until a restart "
                       "with a token")
    return Settings(
        config=config,
        app_secret=SecretBytes(secret.encode()) if secret else None,
        verify_token=SecretStr(env.get("WHATSAPP_VERIFY_TOKEN", "")),
        access_token=SecretStr(env.get("WHATSAPP_ACCESS_TOKEN", "")),
        graph_url=env.get("WHATSAPP_GRAPH_URL") or config.whatsapp.graph_url,
        admin_token=SecretStr(admin) if (admin := env.get("ORDERBOT_ADMIN_TOKEN")) else None,
    )


async def staff_and_orders(config: AppConfig, db_path: Path, args: argparse.Namespace,
                           env: Mapping[str, str], out: TextIO) -> None:
    """``staff add|list|revoke`` and ``orders list|show|move`` (see routes/staff/cli.py)."""
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
    with contextlib.ExitStack() as held:
        if args.command == "orders" and args.action == "move":
            held.enter_context(InstanceLock(db_path))  # serve caches and sends: stop it first
        async with SQLiteStore(db_path) as store:
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


@contextlib.asynccontextmanager
async def locked_store(db_path: Path | DatabaseUrl) -> AsyncIterator[SessionStore]:
    """The store at ``db_path``, open, with a file's instance lock held throughout.

    PostgreSQL takes no lock: its guarantees are the database's (storage/postgres.py).
    """
    with contextlib.ExitStack() as held:
        if isinstance(db_path, Path) and str(db_path) != MEMORY_DB:
            held.enter_context(InstanceLock(db_path))
        async with open_store(db_path) as store:
            yield store


async def db_migrate(db: Path | DatabaseUrl, out: TextIO) -> None:
    """``db migrate``: create or upgrade the schema (a SQLite file is upgraded when opened)."""
    if isinstance(db, Path):
        if str(db) == MEMORY_DB:
            raise UsageError(f"--db {MEMORY_DB} keeps nothing to migrate")
        async with SQLiteStore(db):
            out.write(f"{db}: schema up to date (SQLite files are upgraded when opened)\n")
        return
    before, after = await migrate_database(db.url)
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


def serve(settings: Settings, db_path: Path | DatabaseUrl, host: str, port: int,
          config_path: Path) -> None:
    tune_gc()
    if isinstance(db_path, Path) and str(db_path) != MEMORY_DB and not db_path.exists():
        logger.warning("%s does not exist: creating a new, empty database", db_path)
    logger.info("serving on http://%s:%d (database %s)", host, port, db_path)
    app = create_app(settings, partial(locked_store, db_path))
    # The server's limits (a request must arrive within 10 s, at most 512
    # connections open) and graceful shutdown: routes/server.py. SIGHUP
    # re-reads config_path (routes/ops/reload.py).
    run_server(app, host=host, port=port,
               hangup=partial(reload_config, app[LIVE_CONFIG], config_path))


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    # prog: "bot.py" under `python bot.py`, "orderbot" as the console script.
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("-c", "--config", default="config.yaml", type=Path,
                         help="config file (default: config.yaml)")
        sub.add_argument("--db", help="SQLite file (default: storage.path next to the config)")
        sub.add_argument("--restaurant", help="restaurant id (default: the first one)")
        sub.add_argument("--create", action="store_true",
                         help="make a new database if --db names none (otherwise an error, "
                              "but for the default file next to the config)")

    chat_cmd = commands.add_parser("chat", help="talk to the bot in the terminal")
    common(chat_cmd)
    chat_cmd.add_argument("--customer", default="terminal", help="customer id to chat as")
    chat_cmd.add_argument("--lang", help="language to chat in, one of the restaurant's "
                                         "(default: its first, or the one chosen before)")

    sessions_cmd = commands.add_parser("sessions", help="inspect or reset conversations")
    sessions_cmd.add_argument("action", choices=["list", "show", "reset"])
    common(sessions_cmd)
    sessions_cmd.add_argument("--customer", help="customer id (show, reset)")
    sessions_cmd.add_argument("--limit", type=int, default=100)
    sessions_cmd.add_argument("--json", action="store_true", help="JSON for scripts (list, show)")

    diagram_cmd = commands.add_parser("diagram", help="the conversation's or an order's "
                                                      "state diagram")
    diagram_cmd.add_argument("--machine", choices=sorted(MACHINES), default="conversation",
                             help="conversation (default) or order (an order's lifecycle)")
    diagram_cmd.add_argument("--format", choices=["mermaid", "dot", "svg", "png"],
                             default="mermaid", help="default: mermaid (svg, png need graphviz)")
    diagram_cmd.add_argument("-o", "--output", type=Path,
                             help="write to this file (default: stdout); with --format mermaid, "
                                  "a .md file gets its marked mermaid block replaced")
    diagram_cmd.add_argument("--highlight", metavar="STATE", help="state to highlight")
    diagram_cmd.add_argument("--customer",
                             help="highlight the state of this customer's stored conversation")
    common(diagram_cmd)

    staff_cmd = commands.add_parser("staff", help="staff tokens for the API (one restaurant "
                                                  "each)")
    staff_cmd.add_argument("action", choices=["add", "list", "revoke"])
    common(staff_cmd)
    staff_cmd.add_argument("--name", help="the staff member's name (add, revoke)")

    orders_cmd = commands.add_parser("orders", help="list, show or move orders")
    orders_cmd.add_argument("action", choices=["list", "show", "move"])
    orders_cmd.add_argument("reference", nargs="?", help="order reference (show, move)")
    orders_cmd.add_argument("status_to", nargs="?", metavar="STATUS",
                            help="the status to move to (move)")
    common(orders_cmd)
    orders_cmd.add_argument("--status", help="only orders in this status (list)")
    orders_cmd.add_argument("--limit", type=int, default=50, help="per restaurant (list)")
    orders_cmd.add_argument("--json", action="store_true", help="JSON for scripts (list, show)")
    orders_cmd.add_argument("--reason", help="why, told to the customer (move to CANCELLED)")
    orders_cmd.add_argument("--url", help="move through the running serve at this URL "
                            "(token from ORDERBOT_ADMIN_TOKEN or ORDERBOT_TOKEN); without "
                            "it, serve must be stopped")

    serve_cmd = commands.add_parser("serve", help="run the WhatsApp webhook server")
    serve_cmd.add_argument("-c", "--config", default="config.yaml", type=Path)
    serve_cmd.add_argument("--db", help="SQLite file (default: storage.path next to the config); "
                           "':memory:' keeps nothing across restarts (benchmarks only); "
                           "postgresql://user@host:port/dbname (or ORDERBOT_DATABASE_URL)")
    serve_cmd.add_argument("--host", help="default: server.host in the config")
    serve_cmd.add_argument("--port", type=int, help="default: server.port in the config")
    serve_cmd.add_argument("--insecure-dev", action="store_true",
                           help="accept unsigned webhooks when WHATSAPP_APP_SECRET is unset")

    doctor_cmd = commands.add_parser(
        "doctor", help="check what serve needs: config, secrets, database, Graph and the token")
    doctor_cmd.add_argument("-c", "--config", default="config.yaml", type=Path)
    doctor_cmd.add_argument("--db", help="as serve's --db (default: storage.path next to the "
                            "config, or ORDERBOT_DATABASE_URL)")

    reload_cmd = commands.add_parser(
        "reload", help="make the running serve re-read its config (menus) without a restart")
    reload_cmd.add_argument("-c", "--config", default="config.yaml", type=Path,
                            help="checked first; serve re-reads the file it was started with")
    reload_cmd.add_argument("--db", help="the SQLite file serve runs on (default: "
                            "storage.path next to the config); for PostgreSQL send SIGHUP "
                            "yourself (kill -HUP PID, systemctl reload orderbot)")

    db_cmd = commands.add_parser("db", help="create or upgrade the database's schema")
    db_cmd.add_argument("action", choices=["migrate"])
    db_cmd.add_argument("-c", "--config", default="config.yaml", type=Path)
    db_cmd.add_argument("--db", help="postgresql://user@host:port/dbname (default: "
                        "ORDERBOT_DATABASE_URL), or a SQLite file (default: storage.path)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "diagram":
            diagram(args, sys.stdout.buffer)
            return 0
        if args.command == "doctor":
            return asyncio.run(doctor(args, os.environ, sys.stdout))
        config = load_config(args.config)
        db_path = database_path(args.config, config, args.db)
        url = postgres_url(args.db, os.environ)
        if url is not None and args.command not in ("serve", "db"):
            raise UsageError(f"{args.command} works on a SQLite file only so far: give "
                             "--db FILE (or unset ORDERBOT_DATABASE_URL)")
        if args.command == "db":
            asyncio.run(db_migrate(url or db_path, sys.stdout))
            return 0
        if args.command in ("sessions", "staff", "orders") and not getattr(args, "url", None):
            db_path = existing_database(db_path, args, config)
        if args.command == "chat":
            restaurant = pick_restaurant(config, args.restaurant)
            asyncio.run(chat(config, db_path, restaurant, args.customer, sys.stdin, sys.stdout,
                             args.lang))
        elif args.command == "sessions":
            asyncio.run(sessions(config, db_path, args, sys.stdout))
        elif args.command in ("staff", "orders"):
            try:
                asyncio.run(staff_and_orders(config, db_path, args, os.environ, sys.stdout))
            except staff_cli.CommandError as exc:
                raise UsageError(str(exc)) from exc
        elif args.command == "serve":
            logging.getLogger().setLevel(logging.INFO)
            # A line per trigger or request would drown what matters (and cost ~3% CPU).
            logging.getLogger("transitions").setLevel(logging.WARNING)
            settings = settings_from_environment(config, os.environ, args.insecure_dev)
            serve(settings, url or db_path, args.host or config.server.host,
                  args.port or config.server.port, args.config)
        elif args.command == "reload":
            # The file was just parsed above: a bad one is refused here, precisely.
            pid = signal_serve(db_path)
            print(f"{args.config}: valid; sent SIGHUP to serve (process {pid}), which "
                  "logs whether it loaded it")
    except (UsageError, FsmError, StorageError, ReloadError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return 0
