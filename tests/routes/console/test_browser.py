"""The console in a real headless Chromium against the real app on a loopback port.

Each test signs in through the form, works the page as staff would and
checks, at the end, that the page asked nothing of any other host, logged
no console error and opened no dialog (:mod:`tests.routes.console.browser`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from routes.app import STORE
from storage.base import SessionKey
from tests.fake_graph import FakeGraph
from tests.routes.console.browser import chromium, screenshot, watched_page
from tests.routes.console.support import HOSTILE_NAME, origin, say_as
from tests.routes.staff.support import ADMIN_TOKEN, chat, place_order, say, texts_to
from tests.whatsapp_support import Client, settle

pytestmark = pytest.mark.slow

ALICE = "447700900501"
BEN = "447700900502"
EVE = "447700900503"
MALLORY = "447700900504"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def sign_in(page: Page, client: Client, token: str = ADMIN_TOKEN) -> None:
    await page.goto(f"{origin(client)}/console")
    await expect(page).to_have_url(re.compile(r"/console/login$"))
    await page.get_by_label("Token").fill(token)
    await page.get_by_label("Token").press("Enter")  # by keyboard


async def open_luigis(page: Page, client: Client) -> None:
    await sign_in(page, client)
    await page.get_by_role("button", name="Luigi's Pizzeria").click()
    await expect(page).to_have_url(f"{origin(client)}/console")
    await expect(page.locator("body")).to_have_attribute("data-live", "on")


async def test_sign_in_refuses_a_wrong_token_and_keeps_the_token_out_of_the_page(
        client: Client, browser: Browser) -> None:
    page, watched = await watched_page(browser, origin(client))
    await sign_in(page, client, "wrong-token")
    await expect(page.locator("#signin-error")).to_contain_text("not valid")
    await expect(page.get_by_role("heading", name="Staff console")).to_be_visible()
    # The refusal is a 401 page, which Chromium logs as a failed load: expected here only.
    assert [e for e in watched.errors if "status of 401" not in e] == []
    watched.errors.clear()
    await open_luigis(page, client)
    await expect(page.get_by_role("heading", name="New")).to_be_visible()
    assert ADMIN_TOKEN not in page.url
    stored = await page.evaluate(
        "() => [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]")
    assert stored == ["", "{}", "{}"]  # the session cookie is HttpOnly; nothing stored
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/console/login$"))
    await page.goto(f"{origin(client)}/console")
    await expect(page).to_have_url(re.compile(r"/console/login$"))
    watched.assert_clean()


async def test_a_new_order_appears_live_and_one_click_moves_it_telling_the_customer_once(
        client: Client, graph: FakeGraph, browser: Browser) -> None:
    page, watched = await watched_page(browser, origin(client))
    await open_luigis(page, client)
    await page.get_by_role("button", name="Sound for new orders: off").click()
    reference = await place_order(client, ALICE)  # through the signed webhook

    card = page.locator(f'ol.cards[data-status="CONFIRMED"] #order-{reference}')
    await expect(card).to_be_visible()
    await expect(card).to_have_class(re.compile(r"\bfresh\b"))  # the visible cue
    await expect(page.locator("body")).to_have_attribute("data-cues", "1")
    await expect(page.locator("body")).to_have_attribute("data-beeps", "2")  # toggle + order
    await expect(page.locator("#announce")).to_have_text(re.compile(f"New order {reference}"))
    await expect(card).to_contain_text("£12.00")
    await screenshot(page, "console-orders")

    before = len(texts_to(graph, ALICE))
    await card.get_by_role("button", name="Start preparing").click()
    moved = page.locator(f'ol.cards[data-status="PREPARING"] #order-{reference}')
    await expect(moved).to_be_visible()
    await expect(card).to_have_count(0)
    await settle(client)
    assert texts_to(graph, ALICE)[before:] == [f"Your order {reference} is being prepared."]
    order = await client.app[STORE].order("luigis", reference)
    assert order is not None and order.status == "PREPARING"
    await expect(page.locator('.column[data-status="PREPARING"] .count')).to_have_text("1")
    watched.assert_clean()


async def test_take_over_reply_and_hand_back(client: Client, graph: FakeGraph,
                                            browser: Browser) -> None:
    await chat(client, BEN, "hi")
    page, watched = await watched_page(browser, origin(client))
    await open_luigis(page, client)
    await page.get_by_role("link", name="Conversations").click()
    await page.get_by_role("link", name=f"+{BEN}").click()
    await expect(page.locator("#thread .msg.in")).to_have_text(re.compile("hi"))

    await page.get_by_role("button", name="Take over").click()
    await expect(page.get_by_role("button", name="Hand back to the bot")).to_be_visible()
    await page.get_by_label("Reply on WhatsApp").fill("Ana here — your pizza is on us.")
    await page.get_by_role("button", name="Send").click()
    sent = page.locator("#thread .msg.out").last
    await expect(sent).to_contain_text("Ana here — your pizza is on us.")
    await settle(client)
    assert texts_to(graph, BEN).count("Ana here — your pizza is on us.") == 1
    # Meta's delivery statuses are not announced as events: the thread shows them when it is
    # next drawn (a reload here; the page also re-reads itself every 20 s).
    await page.reload()
    sent = page.locator("#thread .msg.out").last
    await expect(sent.locator(".tick")).to_have_attribute("aria-label", "Sent")
    await expect(page.locator("body")).to_have_attribute("data-live", "on")

    replies = len(texts_to(graph, BEN))
    await say(client, BEN, "thank you!")  # the bot is quiet; the page shows it live
    await expect(page.locator("#thread .msg.in").last).to_have_text(re.compile("thank you!"))
    await settle(client)
    assert len(texts_to(graph, BEN)) == replies
    await screenshot(page, "console-conversation")

    await page.get_by_role("button", name="Hand back to the bot").click()
    await expect(page.get_by_role("button", name="Take over")).to_be_visible()
    record = await client.app[STORE].conversation(SessionKey("luigis", BEN))
    assert record is not None and not record.bot_paused
    watched.assert_clean()


async def test_a_hostile_profile_name_stays_text(client: Client, browser: Browser) -> None:
    await say_as(client, EVE, HOSTILE_NAME, "<b>hello</b>")
    page, watched = await watched_page(browser, origin(client))
    await open_luigis(page, client)
    await page.get_by_role("link", name="Conversations").click()
    await expect(page.get_by_text(HOSTILE_NAME, exact=True)).to_be_visible()
    # Drawn by the script when another such customer writes while the page is open.
    await say_as(client, MALLORY, HOSTILE_NAME, "<img src=x onerror=alert(2)>")
    await expect(page.get_by_text(HOSTILE_NAME, exact=True)).to_have_count(2)
    await expect(page.locator(f'[data-customer="{MALLORY}"] .name')).to_have_text(HOSTILE_NAME)
    await page.get_by_text(HOSTILE_NAME, exact=True).first.click()
    await expect(page.get_by_text("<img src=x onerror=alert(2)>", exact=True)).to_be_visible()
    await expect(page.locator("#thread-name")).to_have_text(HOSTILE_NAME)
    assert await page.locator("#thread img, #conversations script, #thread b").count() == 0
    watched.assert_clean()


async def test_a_phone_sized_screen_fits_and_works(client: Client, browser: Browser) -> None:
    reference = await place_order(client, ALICE)
    page, watched = await watched_page(browser, origin(client), width=360, height=740)
    await open_luigis(page, client)
    await expect(page.locator(f"#order-{reference}")).to_be_visible()
    overflow = await page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 360, f"the page is {overflow} px wide at 360 px"
    await screenshot(page, "console-phone")
    watched.assert_clean()
