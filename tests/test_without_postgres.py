"""A SQLite-only install (no ``postgres`` extra, so no asyncpg) runs every command it needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# Runs bot.py as `python bot.py ARGS` would, in a process where asyncpg cannot be imported.
WITHOUT_ASYNCPG = """
import runpy, sys
sys.modules["asyncpg"] = None  # `import asyncpg` now raises ImportError, as when not installed
import routes.app, routes.cli, storage.base  # what serve and chat import
assert "storage.postgres" not in sys.modules, "a SQLite-only path imported the PostgreSQL store"
sys.argv = ["bot.py", *sys.argv[1:]]
runpy.run_path("bot.py", run_name="__main__")
"""


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_ASYNCPG, *args], cwd=REPO,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_chat_and_diagram_run_without_the_postgresql_driver(tmp_path: Path) -> None:
    chat = run("chat", "--db", str(tmp_path / "demo.db"), stdin="hi\n2\n")
    assert chat.returncode == 0, chat.stderr
    assert "Welcome to Luigi's Pizzeria" in chat.stdout

    diagram = run("diagram", "--machine", "order")
    assert diagram.returncode == 0, diagram.stderr
    assert "CONFIRMED --> PREPARING" in diagram.stdout


def test_a_postgresql_url_without_the_driver_says_what_to_install(tmp_path: Path) -> None:
    refused = run("db", "migrate", "--db", "postgresql://orderbot@localhost/orders")
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
