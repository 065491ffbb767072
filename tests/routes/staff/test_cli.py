"""bot.py staff add|list|revoke and orders list|show|move, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from routes.staff.auth import hash_token
from storage.base import ORDER_NOTE_FIELD, Changes, OrderRecord, SessionKey
from storage.lock import InstanceLock
from storage.records import ConversationChange
from storage.sqlite import SQLiteStore
from tests.conftest import REPO

KEY = SessionKey("luigis", "447700900401")


def bot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "bot.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "orderbot.db"
    async with SQLiteStore(path) as store:
        order = OrderRecord("LU-CLI1", "luigis", KEY.customer_id, "CONFIRMED", "delivery", None,
                            "1 Example Road", "cash", "GBP", 1200, 250,
                            ({"item_id": "margherita", "name": "Margherita", "addons": [],
                              "unit_price": 950, "quantity": 1, "note": "nut allergy",
                              ORDER_NOTE_FIELD: "ring twice\x1b[2K\x1b]0;owned\x07"},),
                            1_763_900_000.0)
        await store.commit(Changes(KEY, 1_763_900_000.0, orders=[order], conversation=(
            ConversationChange(inbound_at=1_763_900_000.0,
                               contact=("109876543210001", KEY.customer_id, None)))))
    return path


async def test_staff_tokens_are_printed_once_and_stored_hashed(db: Path) -> None:
    added = bot("staff", "add", "--restaurant", "luigis", "--name", "Ana", "--db", str(db))
    assert added.returncode == 0, added.stderr
    token = added.stdout.splitlines()[0]
    assert len(token) >= 40
    async with SQLiteStore(db) as store:
        [member] = await store.staff("luigis")
    assert (member.name, member.token_hash) == ("Ana", hash_token(token))
    again = bot("staff", "add", "--restaurant", "luigis", "--name", "Ana", "--db", str(db))
    assert again.returncode == 2 and "already has staff named 'Ana'" in again.stderr
    listed = bot("staff", "list", "--db", str(db))
    assert listed.stdout.startswith("luigis\tAna\tadded ") and token not in listed.stdout
    assert bot("staff", "revoke", "--restaurant", "luigis", "--name", "Ana",
               "--db", str(db)).stdout == "revoked\n"
    assert bot("staff", "list", "--db", str(db)).stdout == ""
    assert bot("staff", "add", "--restaurant", "nowhere", "--name", "X",
               "--db", str(db)).returncode == 2


async def test_orders_list_show_and_move_with_serve_stopped(db: Path) -> None:
    listed = bot("orders", "list", "--db", str(db))
    assert listed.stdout.startswith("luigis\tLU-CLI1\tCONFIRMED\tdelivery\t£12.00")
    moved = bot("orders", "move", "LU-CLI1", "PREPARING", "--restaurant", "luigis",
                "--db", str(db))
    assert moved.returncode == 0, moved.stderr
    assert "PREPARING" in moved.stdout and "queued" in moved.stdout
    shown = bot("orders", "show", "LU-CLI1", "--restaurant", "luigis", "--db", str(db))
    assert "CONFIRMED → PREPARING\tby admin" in shown.stdout
    assert "      note: nut allergy\n" in shown.stdout
    # What the customer typed cannot drive the staff member's terminal.
    assert "\nnote: ring twice\\x1b[2K\\x1b]0;owned\\x07\n" in shown.stdout
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    illegal = bot("orders", "move", "LU-CLI1", "COMPLETED", "--restaurant", "luigis",
                  "--db", str(db))
    assert illegal.returncode == 2 and "can become OUT_FOR_DELIVERY" in illegal.stderr
    async with SQLiteStore(db) as store:
        [row] = await store.list_outbox(KEY)  # the notification waits for the next serve
        assert "is being prepared" in row.body and row.state == "pending"

    with InstanceLock(db):  # as a running serve holds it
        refused = bot("orders", "move", "LU-CLI1", "CANCELLED", "--reason", "closed",
                      "--restaurant", "luigis", "--db", str(db))
    assert refused.returncode == 2 and "in use by orderbot process" in refused.stderr
    assert "add --url http://HOST:PORT" in refused.stderr  # what to do instead
