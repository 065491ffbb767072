"""``bot.py doctor`` against the fake Graph: token accepted (200), rejected (401), unreachable."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import subprocess
from functools import partial
from pathlib import Path

from fsm.config import AppConfig
from routes.ops.doctor import check_sqlite, report, run_checks
from storage.sqlite import SQLiteStore
from tests.conftest import REPO, load_demo_config
from tests.fake_graph import FakeGraph
from tests.serve_process import bot_command, free_port

ENV = {"WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v",
       "WHATSAPP_ACCESS_TOKEN": "good-token"}


async def doctor(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    db = tmp_path / "orderbot.db"
    async with SQLiteStore(db):
        pass
    out = io.StringIO()
    checks = await run_checks(load_demo_config, REPO / "config.yaml", lambda _: db, env)
    return report(checks, out), out.getvalue()


async def test_all_ok_when_graph_accepts_the_token(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        graph.required_token = "good-token"
        code, out = await doctor(tmp_path, {**ENV, "WHATSAPP_GRAPH_URL": graph.url})
    assert code == 0, out
    assert "FAIL" not in out and "all checks passed" in out
    assert "ok    graph luigis: phone number 109876543210001 answered, token accepted" in out
    assert {(lookup.phone_number_id, lookup.body["fields"], lookup.authorization)
            for lookup in graph.lookups} == {
        (r.phone_number_id, "id", "Bearer good-token") for r in load_demo_config().restaurants}
    assert f"ok    database: {tmp_path / 'orderbot.db'} opens and takes a write" in out


async def test_a_rejected_token_fails_with_what_to_do(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        graph.required_token = "another-token"
        code, out = await doctor(tmp_path, {**ENV, "WHATSAPP_GRAPH_URL": graph.url})
    assert code == 1
    assert "FAIL  graph luigis: the access token was rejected (code 190" in out
    assert "set WHATSAPP_ACCESS_TOKEN" in out
    assert "2 of 7 checks failed" in out  # one line per restaurant


async def test_an_unreachable_graph_fails(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v23.0"  # nothing listens there
    code, out = await doctor(tmp_path, {**ENV, "WHATSAPP_GRAPH_URL": url})
    assert code == 1
    assert f"FAIL  graph sakura: {url} unreachable" in out


async def test_missing_secrets_and_a_bad_config_are_named(tmp_path: Path) -> None:
    def broken() -> AppConfig:
        raise ValueError("config.yaml: restaurants[0].id: required key is missing")

    out = io.StringIO()
    checks = await run_checks(broken, Path("config.yaml"), lambda _: tmp_path / "x.db",
                              {"WHATSAPP_APP_SECRET": "s"})
    assert report(checks, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "FAIL  config: config.yaml: restaurants[0].id: required key is missing"
    assert lines[1] == "ok    WHATSAPP_APP_SECRET: set"
    assert lines[2].startswith("FAIL  WHATSAPP_VERIFY_TOKEN: not set")
    assert lines[3].startswith("FAIL  WHATSAPP_ACCESS_TOKEN: not set")


async def test_a_database_that_cannot_be_written_fails(tmp_path: Path) -> None:
    db = tmp_path / "orderbot.db"
    async with SQLiteStore(db):
        pass
    out = io.StringIO()
    # A directory where the file should be: it exists but cannot be opened for writing.
    blocked = tmp_path / "blocked.db"
    blocked.mkdir()
    checks = await run_checks(load_demo_config, REPO / "config.yaml", lambda _: blocked,
                              {**ENV, "WHATSAPP_GRAPH_URL": "http://127.0.0.1:9/v"})
    report(checks, out)
    assert f"FAIL  database: {blocked}: cannot write" in out.getvalue()


def test_a_database_another_writer_holds_fails(tmp_path: Path) -> None:
    db = tmp_path / "orderbot.db"
    with sqlite3.connect(db, isolation_level=None) as writer:
        writer.execute("CREATE TABLE t (x)")
        assert check_sqlite(db, busy_ms=50).ok
        writer.execute("BEGIN IMMEDIATE")  # as a stuck writer would hold it
        held = check_sqlite(db, busy_ms=50)
        writer.execute("ROLLBACK")
    assert not held.ok and "cannot write: database is locked" in held.detail


async def test_the_command_exits_non_zero_on_a_failure(tmp_path: Path) -> None:
    db = tmp_path / "orderbot.db"
    async with SQLiteStore(db):
        pass
    async with FakeGraph() as graph:
        graph.required_token = "good-token"
        env = {**os.environ, **ENV, "WHATSAPP_GRAPH_URL": graph.url}
        run = partial(subprocess.run, capture_output=True, text=True, timeout=60, cwd=REPO)
        good = await asyncio.to_thread(run, bot_command("doctor", "--db", str(db)), env=env)
        bad = await asyncio.to_thread(run, bot_command("doctor", "--db", str(db)),
                                      env={**env, "WHATSAPP_ACCESS_TOKEN": "stale"})
    assert good.returncode == 0, good.stdout + good.stderr
    assert bad.returncode == 1 and "the access token was rejected" in bad.stdout
