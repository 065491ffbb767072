"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the console's tests.

Browser downloads are not possible here, so Playwright launches the system
chromium by ``executable_path``; without it the browser tests are skipped
with the reason, unless ``ORDERBOT_REQUIRE_BROWSER`` is set (``.ci/run``
sets it), when they fail instead. Every page is watched: a request to any
host but the app's is aborted and recorded, and so are console errors,
uncaught exceptions and dialogs (``alert``) — :meth:`Watched.assert_clean`
fails the test on any of them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, Route, async_playwright

CHROMIUM: Final = Path("/usr/bin/chromium")
REQUIRE_ENV: Final = "ORDERBOT_REQUIRE_BROWSER"
ARGS: Final = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]
# Where the README's screenshots are written when this is set (e.g. ``docs``).
SCREENSHOTS_ENV: Final = "ORDERBOT_SCREENSHOTS"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium); the browser tests need it"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}, and {REQUIRE_ENV} is set")
    pytest.skip(reason)


@dataclass
class Watched:
    """What a page did that it must not: foreign requests, console errors, dialogs."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.foreign == [], f"requests to other hosts: {self.foreign}"
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                   args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def watched_page(browser: Browser, origin: str, width: int = 1280,
                       height: int = 800) -> tuple[Page, Watched]:
    """A new page whose requests may only go to ``origin``."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    watched = Watched(origin)

    async def only_the_app(route: Route) -> None:
        url = route.request.url
        if url == origin or url.startswith(f"{origin}/"):
            await route.continue_()
        else:
            watched.foreign.append(url)
            await route.abort()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(f"{message.text} at {message.location}")

    async def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(dialog.message)
        await dialog.dismiss()

    await context.route("**/*", only_the_app)
    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    page.on("dialog", on_dialog)
    return page, watched


async def screenshot(page: Page, name: str) -> None:
    """Save ``name``.png under ``$ORDERBOT_SCREENSHOTS`` when it is set."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        await asyncio.to_thread(Path(folder).mkdir, parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
