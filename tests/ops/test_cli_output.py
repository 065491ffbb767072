"""``sessions`` and ``orders`` as people read them, ``--json`` for scripts, and ``--create``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from fsm.config import AppConfig, Restaurant
from storage.base import SessionKey
from storage.records import Changes, OrderRecord
from storage.sqlite import SQLiteStore
from tests.conftest import REPO, START, Customer, FakeClock, make_dispatcher
from tests.serve_process import bot_command

# START (1_763_900_000) is 2025-11-23 12:13:20 UTC; India has no daylight saving time.
ZONE = {"TZ": "Asia/Kolkata"}
LOCAL = "2025-11-23 17:43:20 IST"
KEY = SessionKey("luigis", "447700900555")


def bot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(bot_command(*args), cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, **(env or {})})


@pytest.fixture
async def db(tmp_path: Path, config: AppConfig, luigis: Restaurant) -> Path:
    """A customer with two Margheritas in the cart, and one of their orders."""
    path = tmp_path / "orderbot.db"
    async with SQLiteStore(path) as store:
        customer = Customer(make_dispatcher(config, store, FakeClock()), luigis,
                            KEY.customer_id)
        for text in ("hi", "delivery", "margherita x2"):
            await customer.type(text)
        order = OrderRecord("LU-OUT1", "luigis", KEY.customer_id, "CONFIRMED", "pickup",
                            "central", None, "cash", "GBP", 1900, 0,
                            ({"item_id": "margherita", "name": "Margherita", "addons": [],
                              "unit_price": 950, "quantity": 2},), START)
        await store.commit(Changes(KEY, START, orders=[order]))
    return path


def test_sessions_for_people(db: Path) -> None:
    listed = bot("sessions", "list", "--db", str(db), env=ZONE)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == (f"luigis\t{KEY.customer_id}\treviewing cart\t2 items, £19.00\t"
                             f"updated {LOCAL}\n")
    shown = bot("sessions", "show", "--db", str(db), "--customer", KEY.customer_id, env=ZONE)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        f"customer {KEY.customer_id} at luigis (Luigi's Pizzeria)",
        "state: reviewing cart",
        f"last message: {LOCAL}",
        "order type: delivery",
        "cart:",
        "  2 × Margherita  £19.00",
        "subtotal: £19.00",
    ]


def test_sessions_as_json(db: Path) -> None:
    [listed] = json.loads(bot("sessions", "list", "--json", "--db", str(db), env=ZONE).stdout)
    assert (listed["state"], listed["subtotal_minor"], listed["currency"]) == (
        "reviewing_cart", 1900, "GBP")
    assert (listed["updated_at"], listed["updated"]) == (START, "2025-11-23T17:43:20+05:30")
    shown = json.loads(bot("sessions", "show", "--json", "--db", str(db), "--customer",
                           KEY.customer_id).stdout)
    assert shown["cart"] == [{"item_id": "margherita", "name": "Margherita", "addons": [],
                              "quantity": 2, "unit_minor": 950, "line_total_minor": 1900,
                              "note": None}]


def test_orders_in_local_time_and_as_json(db: Path) -> None:
    listed = bot("orders", "list", "--db", str(db), env=ZONE)
    assert listed.stdout == (f"luigis\tLU-OUT1\tCONFIRMED\tpickup\t£19.00\t{KEY.customer_id}\t"
                             f"{LOCAL}\n")
    shown = bot("orders", "show", "LU-OUT1", "--restaurant", "luigis", "--db", str(db),
                env=ZONE)
    assert "  2 × Margherita  £19.00" in shown.stdout
    assert f"{LOCAL}\t- → CONFIRMED" in shown.stdout
    [order] = json.loads(bot("orders", "list", "--json", "--db", str(db), env=ZONE).stdout)
    assert (order["reference"], order["status"], order["total_minor"], order["created"]) == (
        "LU-OUT1", "CONFIRMED", 1900, "2025-11-23T17:43:20+05:30")
    one = json.loads(bot("orders", "show", "LU-OUT1", "--json", "--restaurant", "luigis",
                         "--db", str(db)).stdout)
    assert [event["to"] for event in one["history"]] == ["CONFIRMED"]


def test_a_database_that_does_not_exist_is_an_error_unless_create(tmp_path: Path) -> None:
    typo = tmp_path / "ordrebot.db"
    for command in (("sessions", "list"), ("orders", "list"), ("staff", "list")):
        refused = bot(*command, "--db", str(typo))
        assert refused.returncode == 2
        assert refused.stderr.strip() == (f"{typo}: no such database (check --db, or give "
                                          "--create to start a new one)")
        assert not typo.exists()
    assert bot("sessions", "list", "--db", str(typo), "--create").returncode == 0
    assert typo.is_file()


def test_the_default_database_next_to_the_config_is_created(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    result = bot("sessions", "list", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "orderbot.db").is_file()


async def test_what_customers_typed_cannot_drive_the_terminal(
        tmp_path: Path, config: AppConfig, luigis: Restaurant) -> None:
    path = tmp_path / "orderbot.db"
    async with SQLiteStore(path) as store:
        customer = Customer(make_dispatcher(config, store, FakeClock()), luigis,
                            KEY.customer_id)
        for text in ("hi", "delivery", "margherita", "note ring\x1b[2K\x1b]0;owned\x07twice"):
            await customer.type(text)
    shown = bot("sessions", "show", "--db", str(path), "--customer", KEY.customer_id, env=ZONE)
    assert shown.returncode == 0, shown.stderr
    assert "note: ring\\x1b[2K\\x1b]0;owned\\x07twice\n" in shown.stdout
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
