"""``bot.py doctor``: the go-live checklist, checked where ``serve`` will run.

Each check is one line, ``ok`` or ``FAIL`` with what to fix; the command exits
1 if any failed. What it checks, with the environment ``serve`` gets:

- **config**: ``config.yaml`` parses and validates (the precise error if not);
- **secrets**: ``WHATSAPP_APP_SECRET``, ``WHATSAPP_VERIFY_TOKEN`` and
  ``WHATSAPP_ACCESS_TOKEN`` are set;
- **database**: a SQLite file can be opened and written (a write transaction
  is taken and rolled back; a file not created yet needs a writable
  directory), a PostgreSQL database can be opened;
- **graph**: for each restaurant, ``GET {graph_url}/{phone_number_id}?fields=id``
  with the access token answers 200 (401 or Meta's code 190: the token is
  wrong; no answer: Graph is unreachable from here).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import aiohttp

from fsm.config import AppConfig, Restaurant

GRAPH_TIMEOUT: Final = aiohttp.ClientTimeout(total=10)
BUSY_MS: Final = 5_000

SECRETS: Final = (
    ("WHATSAPP_APP_SECRET", "the App secret (Meta app > App settings > Basic); without it "
     "serve refuses to start"),
    ("WHATSAPP_VERIFY_TOKEN", "any random string, also typed as the Verify token in the "
     "app's WhatsApp > Configuration > Webhook"),
    ("WHATSAPP_ACCESS_TOKEN", "a System User's permanent token with whatsapp_business_messaging "
     "(Business settings > Users > System users > Generate token)"),
)


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def check_secrets(env: Mapping[str, str]) -> list[Check]:
    return [Check(name, True, "set") if env.get(name)
            else Check(name, False, f"not set: set it to {what}")
            for name, what in SECRETS]


def check_sqlite(path: Path, busy_ms: int = BUSY_MS) -> Check:
    """Open ``path`` and take SQLite's write lock in a transaction that is rolled back."""
    name = "database"
    if not path.exists():
        directory = path.parent if str(path.parent) else Path(".")
        try:
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".orderbot-doctor-"):
                pass
        except OSError as exc:
            return Check(name, False, f"{path} does not exist and {directory} is not "
                         f"writable ({exc.strerror}): create the directory, owned by the "
                         "user serve runs as")
        return Check(name, True, f"{path} does not exist yet; serve creates it "
                     f"({directory} is writable)")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=busy_ms / 1000,
                                     isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")  # the write lock, as a commit takes it
            connection.execute("CREATE TEMP TABLE orderbot_doctor (x)")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return Check(name, False, f"{path}: cannot write: {exc} (is it owned by the user "
                     "serve runs as, on a disk with room?)")
    return Check(name, True, f"{path} opens and takes a write")


async def check_postgres(url: str, shown: str) -> Check:
    from storage.postgres import PostgresStore  # asyncpg: the postgres extra

    try:
        async with PostgresStore(url):
            pass
    except Exception as exc:  # any reason it cannot open is the operator's to read
        return Check("database", False, f"{shown}: {exc or type(exc).__name__}")
    return Check("database", True, f"{shown} opens")


async def check_graph(config: AppConfig, graph_url: str, token: str) -> list[Check]:
    if not token:
        return [Check("graph", False, "not checked: WHATSAPP_ACCESS_TOKEN is not set")]
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(timeout=GRAPH_TIMEOUT, headers=headers) as http:
        return list(await asyncio.gather(*(
            _check_number(http, graph_url.rstrip("/"), restaurant)
            for restaurant in config.restaurants)))


async def _check_number(http: aiohttp.ClientSession, graph_url: str,
                        restaurant: Restaurant) -> Check:
    name = f"graph {restaurant.id}"
    number = restaurant.phone_number_id
    url = f"{graph_url}/{number}"
    try:
        async with http.get(url, params={"fields": "id"}) as response:
            status, text = response.status, await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(name, False, f"{graph_url} unreachable ({exc or type(exc).__name__}): "
                     "check DNS, the firewall and any proxy for outgoing HTTPS")
    error = _meta_error(text)
    if status == 200:
        return Check(name, True, f"phone number {number} answered, token accepted")
    if status == 401 or error.get("code") == 190:
        return Check(name, False, f"the access token was rejected ({_describe(error)}): "
                     "generate a new System User token and set WHATSAPP_ACCESS_TOKEN")
    if status in (400, 404) and error.get("code") in (100, 803):
        return Check(name, False, f"phone number {number} not found with this token "
                     f"({_describe(error)}): check phone_number_id in the config and that "
                     "the System User has the WhatsApp account assigned")
    return Check(name, False, f"HTTP {status} from {url} ({_describe(error)})")


def _meta_error(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _describe(error: Mapping[str, Any]) -> str:
    if not error:
        return "no error body"
    return f"code {error.get('code')}: {error.get('message')}"


async def run_checks(load: Callable[[], AppConfig], config_path: Path,
                     database: Callable[[AppConfig], Path | tuple[str, str]],
                     env: Mapping[str, str]) -> list[Check]:
    """Every check; ``load`` reads the config (raising its error), ``database`` names the
    store (a SQLite path, or a PostgreSQL ``(url, shown)``)."""
    checks = []
    try:
        config = load()
    except Exception as exc:  # the config's own precise message
        return [Check("config", False, str(exc)), *check_secrets(env),
                Check("database", False, "not checked: the config is not valid"),
                Check("graph", False, "not checked: the config is not valid")]
    checks.append(Check("config", True, f"{config_path} is valid ("
                        + ", ".join(r.id for r in config.restaurants) + ")"))
    checks.extend(check_secrets(env))
    try:
        where = database(config)
    except Exception as exc:
        checks.append(Check("database", False, str(exc)))
    else:
        checks.append(check_sqlite(where) if isinstance(where, Path)
                      else await check_postgres(*where))
    graph_url = env.get("WHATSAPP_GRAPH_URL") or config.whatsapp.graph_url
    checks.extend(await check_graph(config, graph_url, env.get("WHATSAPP_ACCESS_TOKEN", "")))
    return checks


def report(checks: Sequence[Check], out: TextIO) -> int:
    """Print the checklist; the exit code (1 if anything failed)."""
    for check in checks:
        out.write(check.line() + "\n")
    failed = sum(not check.ok for check in checks)
    out.write(f"{failed} of {len(checks)} checks failed\n" if failed
              else "all checks passed: serve is ready\n")
    out.flush()
    return 1 if failed else 0
