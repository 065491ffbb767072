"""A number change through the signed webhook moves the whole conversation (issue 14 item 4):
state and cart, the message history, the staff record with the new contact, and the orders."""

from __future__ import annotations

from routes.app import STORE
from storage.base import SessionKey
from tests.fake_graph import FakeGraph
from tests.routes.staff.support import chat, place_order, say
from tests.whatsapp_support import FIXTURE_TIME, Client, bodies_to, notification, post, settle

OLD, NEW = "15550100121", "15550100122"
LUIGIS_NUMBER = "109876543210001"


def number_change(old: str, new: str) -> bytes:
    return notification([{
        "from": old, "id": "wamid.NUMBERCHANGE1", "timestamp": str(FIXTURE_TIME + 5),
        "type": "system", "system": {"body": f"Test Customer changed from {old} to {new}",
                                     "wa_id": new, "type": "user_changed_number"}}])


async def test_a_number_change_moves_history_staff_record_and_orders(
        client: Client, graph: FakeGraph) -> None:
    store = client.app[STORE]
    reference = await place_order(client, OLD)
    await chat(client, OLD, "hi", "delivery", "drinks", "cola")
    assert "Added Coca-Cola" in bodies_to(graph, f"+{OLD}")[-1]
    history = [message.text for message in await store.messages(SessionKey("luigis", OLD))]
    sent_before = len(graph.sends)

    assert await post(client, number_change(OLD, NEW)) == 200
    await settle(client)
    assert len(graph.sends) == sent_before  # a notice is never answered

    new, old = SessionKey("luigis", NEW), SessionKey("luigis", OLD)
    moved = [message.text for message in await store.messages(new)]
    assert moved[:len(history)] == history  # the history moved with the conversation
    record = await store.conversation(new)
    assert record is not None
    assert (record.phone_number_id, record.wa_id) == (LUIGIS_NUMBER, NEW)
    latest = await store.latest_order(new)
    assert latest is not None and latest.reference == reference
    assert await store.latest_order(old) is None

    await chat(client, NEW, "cart")
    said = bodies_to(graph, f"+{NEW}")
    assert "1 × Coca-Cola" in "\n".join(said) and "Welcome" not in "\n".join(said)
    await say(client, NEW, "status")
    await settle(client)
    assert f"Your order {reference}" in bodies_to(graph, f"+{NEW}")[-1]
    assert bodies_to(graph, f"+{OLD}")[-1].startswith("Added Coca-Cola")  # nothing more there
