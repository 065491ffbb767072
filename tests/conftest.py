"""Fixtures shared by every test package: the demo config, stores, a clock, a customer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fsm.config import AppConfig, Restaurant, parse_config
from routes.conversation.dispatcher import Dispatcher
from routes.conversation.flow import conversation
from routes.conversation.messages import Inbound, Location, Outgoing, options_of
from routes.terminal import render
from storage.base import SessionStore
from storage.memory import MemoryStore
from storage.sessions import SessionRepository
from storage.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[1]
# Meta's webhook bodies, byte for byte as they arrive (see fixtures/whatsapp/README.md).
WEBHOOK_FIXTURES = REPO / "tests" / "fixtures" / "whatsapp"
START = 1_763_900_000.0


class FakeClock:
    """An injectable clock: time moves only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Customer:
    """Drives one customer's conversation and keeps what the bot answered last."""

    def __init__(self, dispatcher: Dispatcher, restaurant: Restaurant, customer_id: str) -> None:
        self.dispatcher = dispatcher
        self.restaurant = restaurant
        self.customer_id = customer_id
        self.replies: list[Outgoing] = []

    async def send(self, inbound: Inbound) -> list[Outgoing]:
        self.replies = await self.dispatcher.feed(self.restaurant, self.customer_id, inbound)
        return self.replies

    async def type(self, text: str) -> list[Outgoing]:
        return await self.send(Inbound.typed(text))

    async def tap(self, choice_id: str) -> list[Outgoing]:
        return await self.send(Inbound.tapped(choice_id))

    async def pin(self, latitude: float, longitude: float, address: str | None = None) -> None:
        await self.send(Inbound.pin(Location(latitude, longitude, address=address)))

    @property
    def text(self) -> str:
        """Everything the bot said last, as a terminal shows it."""
        return "\n".join(render(reply) for reply in self.replies)

    @property
    def option_ids(self) -> list[str]:
        return [option.id for reply in self.replies for option in options_of(reply)]

    @property
    def option_titles(self) -> list[str]:
        return [option.title for reply in self.replies for option in options_of(reply)]


def load_demo_config() -> AppConfig:
    return parse_config((REPO / "config.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def config() -> AppConfig:
    return load_demo_config()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    backend: SessionStore = (MemoryStore() if request.param == "memory"
                             else SQLiteStore(tmp_path / "orderbot.db"))
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


def make_dispatcher(config: AppConfig, store: SessionStore, clock: FakeClock,
                    cache_size: int = 100) -> Dispatcher:
    return Dispatcher(config, SessionRepository(store, cache_size=cache_size), conversation,
                      clock=clock)


@pytest.fixture
def dispatcher(config: AppConfig, store: SessionStore, clock: FakeClock) -> Dispatcher:
    return make_dispatcher(config, store, clock)


@pytest.fixture
def luigis(config: AppConfig) -> Restaurant:
    restaurant = config.restaurant("luigis")
    assert restaurant is not None
    return restaurant


@pytest.fixture
def sakura(config: AppConfig) -> Restaurant:
    restaurant = config.restaurant("sakura")
    assert restaurant is not None
    return restaurant


@pytest.fixture
def amira(dispatcher: Dispatcher, luigis: Restaurant) -> Customer:
    return Customer(dispatcher, luigis, "447700900123")
