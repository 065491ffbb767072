"""Orders through the API: the lifecycle, one WhatsApp message per move, 409s, races."""

from __future__ import annotations

import asyncio

from routes.app import STORE
from tests.fake_graph import FakeGraph
from tests.routes.staff.support import api, place_order, say, texts_to
from tests.whatsapp_support import Client, settle

ALICE = "447700900201"


async def test_a_whole_order_moves_through_its_lifecycle_telling_the_customer_once_each(
        client: Client, graph: FakeGraph) -> None:
    reference = await place_order(client, ALICE)
    status, listed = await api(client, "GET", "/restaurants/luigis/orders")
    assert status == 200
    [order] = listed["orders"]
    assert order["reference"] == reference and order["status"] == "CONFIRMED"
    assert order["customer"] == ALICE and order["currency"] == "GBP"
    assert order["items"] == [{"item_id": "margherita", "name": "Margherita", "quantity": 1,
                               "addons": [], "note": None, "unit_minor": 950,
                               "line_total_minor": 950}]
    assert order["note"] is None
    assert order["total_minor"] == 1200 and order["order_type"] == "delivery"
    assert order["payment"] == "cash" and order["address"].startswith("1 Example Road")
    before = len(texts_to(graph, ALICE))

    expected = {"PREPARING": f"Your order {reference} is being prepared.",
                "OUT_FOR_DELIVERY": f"Your order {reference} is on its way.",
                "COMPLETED": f"Your order {reference} is complete."}
    for target, sentence in expected.items():
        status, moved = await api(client, "POST", f"/restaurants/luigis/orders/{reference}/status",
                                  {"status": target})
        assert status == 200, moved
        assert moved["status"] == target and moved["customer_notified"] is True
        await settle(client)
        told = texts_to(graph, ALICE)[before:]
        assert len(told) == 1, told  # exactly one WhatsApp message per move
        assert told[0].startswith(sentence)
        before += 1

    status, shown = await api(client, "GET", f"/restaurants/luigis/orders/{reference}")
    assert status == 200
    assert [(e["from"], e["to"], e["actor"]) for e in shown["history"]] == [
        (None, "CONFIRMED", "customer"), ("CONFIRMED", "PREPARING", "admin"),
        ("PREPARING", "OUT_FOR_DELIVERY", "admin"), ("OUT_FOR_DELIVERY", "COMPLETED", "admin")]
    assert shown["updated_at"] == shown["history"][-1]["at"]
    status, done = await api(client, "GET", "/restaurants/luigis/orders?status=COMPLETED")
    assert [o["reference"] for o in done["orders"]] == [reference]
    status, open_ = await api(client, "GET", "/restaurants/luigis/orders?status=CONFIRMED")
    assert open_["orders"] == []


async def test_illegal_moves_are_409_with_the_allowed_ones_and_tell_nobody(
        client: Client, graph: FakeGraph) -> None:
    reference = await place_order(client, ALICE)
    sent = len(graph.sends)
    path = f"/restaurants/luigis/orders/{reference}/status"
    status, body = await api(client, "POST", path, {"status": "COMPLETED"})
    assert status == 409
    assert body["allowed"] == ["PREPARING", "CANCELLED"]
    assert "CONFIRMED" in body["error"]
    assert (await api(client, "POST", path, {"status": "PREPARING"}))[0] == 200
    # A delivery order is never READY (that is for pickup).
    status, body = await api(client, "POST", path, {"status": "READY"})
    assert (status, body["allowed"]) == (409, ["OUT_FOR_DELIVERY", "CANCELLED"])
    status, body = await api(client, "POST", path, {"status": "CANCELLED", "reason": "no rider"})
    assert status == 200
    status, body = await api(client, "POST", path, {"status": "PREPARING"})
    assert (status, body["allowed"]) == (409, [])
    await settle(client)
    assert len(graph.sends) == sent + 2  # PREPARING and CANCELLED only
    assert texts_to(graph, ALICE)[-1] == f"Sorry, your order {reference} was cancelled: no rider"


async def test_bad_requests_name_the_field(client: Client) -> None:
    reference = await place_order(client, ALICE)
    path = f"/restaurants/luigis/orders/{reference}/status"
    status, body = await api(client, "POST", path, {"status": "CANCELLED"})
    assert (status, body["field"]) == (400, "reason")
    status, body = await api(client, "POST", path, {"status": "EATEN"})
    assert (status, body["field"]) == (400, "status")
    status, body = await api(client, "POST", path, {"status": "PREPARING", "colour": "red"})
    assert (status, body["field"]) == (400, "colour")
    async with client.post(f"/api/v1{path}", data=b"{nope",
                           headers={"Authorization": "Bearer admin-token-3b9f0c"}) as response:
        assert response.status == 400
        assert (await response.json())["field"] == "body"
    status, body = await api(client, "GET", "/restaurants/luigis/orders?limit=0")
    assert (status, body["field"]) == (400, "limit")
    status, body = await api(client, "GET", "/restaurants/luigis/orders?status=EATEN")
    assert (status, body["field"]) == (400, "status")
    status, _ = await api(client, "GET", "/restaurants/luigis/orders/LU-NONE")
    assert status == 404
    order = await client.app[STORE].order("luigis", reference)
    assert order is not None and order.status == "CONFIRMED"


async def test_a_staff_move_racing_the_customers_message_loses_neither(
        client: Client, graph: FakeGraph) -> None:
    reference = await place_order(client, ALICE)
    before = len(texts_to(graph, ALICE))
    path = f"/restaurants/luigis/orders/{reference}/status"
    await say(client, ALICE, "hi")
    moved, _ = await asyncio.gather(api(client, "POST", path, {"status": "PREPARING"}),
                                    say(client, ALICE, "menu"))
    assert moved[0] == 200
    await settle(client)
    told = texts_to(graph, ALICE)[before:]
    assert told.count(f"Your order {reference} is being prepared.") == 1
    assert len(told) == 3  # the move's notification and a reply to each message
    order = await client.app[STORE].order("luigis", reference)
    assert order is not None and order.status == "PREPARING"
    _, messages = await api(client, "GET",
                            f"/restaurants/luigis/conversations/{ALICE}/messages?limit=200")
    inbound = [m["text"] for m in messages["messages"] if m["direction"] == "in"]
    assert inbound[-2:] == ["hi", "menu"]


async def test_two_staff_moving_at_once_one_wins_and_the_customer_hears_once(
        client: Client, graph: FakeGraph) -> None:
    reference = await place_order(client, ALICE)
    before = len(texts_to(graph, ALICE))
    path = f"/restaurants/luigis/orders/{reference}/status"
    results = await asyncio.gather(
        api(client, "POST", path, {"status": "PREPARING"}),
        api(client, "POST", path, {"status": "CANCELLED", "reason": "closed"}))
    assert sorted(status for status, _ in results) == [200, 409]
    [(_, loser)] = [result for result in results if result[0] == 409]
    assert "allowed" in loser
    await settle(client)
    assert len(texts_to(graph, ALICE)) == before + 1
