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

import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TextIO

from pydantic import SecretBytes, SecretStr

from fsm.config import AppConfig, Restaurant
from fsm.errors import FsmError
from routes.app import LIVE_CONFIG, create_app, tune_gc
from routes.cli_base import (
    EXIT_USAGE,
    MEMORY_DB,
    DatabaseUrl,
    UsageError,
    database_path,
    existing_database,
    load_config,
    locked_store,
    pick_restaurant,
    postgres_url,
)
from routes.cli_commands import db_migrate, diagram, doctor, sessions, staff_and_orders
from routes.cli_parser import build_parser
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.flow import conversation_dispatcher
from routes.ops.reload import ReloadError, reload_config, signal_serve
from routes.server import run as run_server
from routes.settings import Settings
from routes.staff import cli as staff_cli
from routes.staff.api import RELOADER
from routes.terminal import chat_loop
from storage.base import SessionStore
from storage.errors import StorageError
from storage.lock import InstanceLock
from storage.sqlite import SQLiteStore

logger = logging.getLogger("orderbot")



















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
                       "replies are kept pending, and /healthz answers 503 once Graph has "
                       "refused one, until a restart with a token")
    return Settings(
        config=config,
        app_secret=SecretBytes(secret.encode()) if secret else None,
        verify_token=SecretStr(env.get("WHATSAPP_VERIFY_TOKEN", "")),
        access_token=SecretStr(env.get("WHATSAPP_ACCESS_TOKEN", "")),
        graph_url=env.get("WHATSAPP_GRAPH_URL") or config.whatsapp.graph_url,
        admin_token=SecretStr(admin) if (admin := env.get("ORDERBOT_ADMIN_TOKEN")) else None,
    )










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
    reload = app[RELOADER].reload = partial(reload_config, app[LIVE_CONFIG], config_path)
    run_server(app, host=host, port=port, hangup=reload)




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
        if url is not None and args.command not in ("serve", "db", "staff", "orders"):
            raise UsageError(f"{args.command} works on a SQLite file only so far: give "
                             "--db FILE (or unset ORDERBOT_DATABASE_URL)")
        if args.command == "db":
            asyncio.run(db_migrate(url or db_path, sys.stdout))
            return 0
        if (args.command in ("sessions", "staff", "orders") and not getattr(args, "url", None)
                and url is None):
            db_path = existing_database(db_path, args, config)
        if args.command == "chat":
            restaurant = pick_restaurant(config, args.restaurant)
            asyncio.run(chat(config, db_path, restaurant, args.customer, sys.stdin, sys.stdout,
                             args.lang))
        elif args.command == "sessions":
            asyncio.run(sessions(config, db_path, args, sys.stdout))
        elif args.command in ("staff", "orders"):
            try:
                asyncio.run(staff_and_orders(config, url or db_path, args, os.environ,
                                             sys.stdout))
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
