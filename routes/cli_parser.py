"""The command line's arguments (``orderbot --help``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from routes.cli_commands import MACHINES


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    # prog: "bot.py" under `python bot.py`, "orderbot" as the console script.
    parser = argparse.ArgumentParser(
        prog=prog, description="orderbot: a WhatsApp ordering bot for restaurants that never "
        "forgets a conversation")
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
