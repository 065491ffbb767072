"""What the console pages show: customers' words as text, the board, an order, the threads."""

from __future__ import annotations

from routes.app import STORE
from routes.console.guard import CSP
from tests.routes.console.support import HOSTILE_NAME, admin_at, page, say_as, write
from tests.routes.staff.support import DELIVERY_ORDER, LUIGIS_NUMBER, api, chat, place_order
from tests.whatsapp_support import Client, notification, post, settle

EVE = "447700900401"
ALICE = "447700900402"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


async def test_a_hostile_profile_name_and_message_are_rendered_as_text(client: Client) -> None:
    await say_as(client, EVE, HOSTILE_NAME, "hi")
    await say_as(client, EVE, HOSTILE_NAME, '<img src=x onerror="alert(2)"> & more')
    await chat(client, EVE, *DELIVERY_ORDER[1:])
    await admin_at(client)
    for path in ("/console", "/console/conversations", f"/console/conversations/{EVE}"):
        status, html = await page(client, path)
        assert status == 200, path
        assert HOSTILE_NAME not in html and "<img src=x" not in html, path
        assert ESCAPED in html, path
    _, thread = await page(client, f"/console/conversations/{EVE}")
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt; &amp; more" in thread


async def test_every_console_response_carries_a_strict_policy(client: Client) -> None:
    for path in ("/console/login", "/console", "/console/static/console.js"):
        async with client.get(path, allow_redirects=False) as response:
            assert response.headers["Content-Security-Policy"] == CSP, path
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in CSP and "unsafe-inline" not in CSP
    _, html = await page(client, "/console/login")
    assert "<script>" not in html and "style=" not in html and "http" not in html
    assert '<label for="token">' in html


async def test_the_board_puts_an_order_in_its_column_with_its_moves(client: Client) -> None:
    reference = await place_order(client, ALICE)
    csrf = await admin_at(client)
    status, html = await page(client, "/console")
    assert status == 200
    new_column = html.split('<ol class="cards" data-status="CONFIRMED">')[1].split("</ol>")[0]
    assert f'id="order-{reference}"' in new_column and "£12.00" in new_column
    assert 'value="PREPARING"' in new_column and 'value="CANCELLED"' in new_column
    assert 'for="reason-' in new_column  # the cancel form asks for a reason, labelled
    await write(client, f"/console/orders/{reference}/status", {"status": "PREPARING"}, csrf)
    _, html = await page(client, "/console")
    preparing = html.split('<ol class="cards" data-status="PREPARING">')[1].split("</ol>")[0]
    assert f'id="order-{reference}"' in preparing and 'value="OUT_FOR_DELIVERY"' in preparing


async def test_an_order_page_shows_lines_totals_the_pin_and_history(client: Client) -> None:
    await chat(client, ALICE, "hi", "delivery", "margherita", "checkout")
    pin: dict[str, object] = {"from": ALICE, "id": "wamid.CONSOLEPIN", "timestamp": "1763900000",
           "type": "location", "location": {"latitude": 51.5073, "longitude": -0.1277,
                                            "name": "Trafalgar Sq"}}
    assert await post(client, notification([pin], LUIGIS_NUMBER)) == 200
    await settle(client)
    await chat(client, ALICE, "cash", "confirm")
    _, board = await page(client, "/console/restaurants")  # not signed in: redirected
    csrf = await admin_at(client)
    _, board = await page(client, "/console")
    reference = board.split('data-reference="')[1].split('"')[0]
    await write(client, f"/console/orders/{reference}/status", {"status": "CANCELLED",
                                                                "reason": "no <rider>"}, csrf)
    status, html = await page(client, f"/console/orders/{reference}")
    assert status == 200
    assert "1×" in html and "Margherita" in html and "£9.50" in html and "£12.00" in html
    assert "Delivery" in html and "Cash" in html and "Trafalgar Sq" in html
    assert 'href="https://www.openstreetmap.org/?mlat=51.50730&amp;mlon=-0.12770' in html
    assert "no &lt;rider&gt;" in html and "Cancelled" in html and "(from New)" in html
    assert (await page(client, "/console/orders/LU-NOPE"))[0] == 404


async def test_requests_for_a_person_come_first_with_unread_counts(client: Client) -> None:
    await chat(client, ALICE, "hi")
    await chat(client, EVE, "hi", "human")  # EVE asks for a person...
    await chat(client, "447700900403", "hi")  # ...then someone else writes last
    await admin_at(client)
    _, html = await page(client, "/console/conversations")
    order = [part.split('"')[0] for part in html.split('data-customer="')[1:]]
    assert order == [EVE, "447700900403", ALICE]
    assert "Wants a person" in html and 'class="badge unread"' in html


async def test_the_customers_notes_reach_every_staff_view(client: Client) -> None:
    # An allergy note on a line and a note for the whole order (hostile text, too):
    # the kitchen must see both wherever it looks at the order.
    await chat(client, ALICE, "hi", "delivery", "margherita", "cart", "change margherita",
               "note", "nut allergy <b>severe</b>", f"note ring twice {HOSTILE_NAME}",
               "checkout", "1 Example Road, London E1 6AN", "cash", "confirm")
    [order] = await client.app[STORE].orders("luigis", limit=1)
    status, body = await api(client, "GET", f"/restaurants/luigis/orders/{order.reference}")
    assert status == 200
    assert body["note"] == f"ring twice {HOSTILE_NAME}"
    assert [item["note"] for item in body["items"]] == ["nut allergy <b>severe</b>"]
    await admin_at(client)
    for path in ("/console", f"/console/orders/{order.reference}"):
        _, html = await page(client, path)
        assert "Note: ring twice &lt;script&gt;alert(1)&lt;/script&gt;" in html \
            or "ring twice &lt;script&gt;alert(1)&lt;/script&gt;</dd>" in html, path
        assert HOSTILE_NAME not in html
    _, html = await page(client, f"/console/orders/{order.reference}")
    assert "Note: nut allergy &lt;b&gt;severe&lt;/b&gt;" in html
