"""The contract of :class:`storage.staff.RestaurantControls`: the bot switch, sold-out items."""

import asyncio

import pytest

from storage.base import SessionStore
from storage.staff import Controls
from tests.storage.contract.support import Backend


class TestControls:
    """Switching the bot and marking items sold out, per restaurant."""

    async def test_a_restaurant_never_touched_is_on_with_nothing_sold_out(
        self, store: SessionStore
    ) -> None:
        assert await store.controls("luigis") == Controls("luigis", True, 0, frozenset())

    async def test_the_epoch_counts_switch_offs_from_on_only(self, store: SessionStore) -> None:
        assert await store.set_bot_enabled("luigis", True, 1.0) == Controls("luigis", True, 0)
        assert await store.set_bot_enabled("luigis", False, 2.0) == Controls("luigis", False, 1)
        assert await store.set_bot_enabled("luigis", False, 3.0) == Controls("luigis", False, 1)
        assert await store.set_bot_enabled("luigis", True, 4.0) == Controls("luigis", True, 1)
        assert await store.set_bot_enabled("luigis", True, 5.0) == Controls("luigis", True, 1)
        assert await store.set_bot_enabled("luigis", False, 6.0) == Controls("luigis", False, 2)
        assert await store.controls("luigis") == Controls("luigis", False, 2)
        assert await store.controls("sushi") == Controls("sushi")

    async def test_concurrent_switches_apply_in_call_order(self, store: SessionStore) -> None:
        switches = [False, True, False, False, True, False]
        await asyncio.gather(*(store.set_bot_enabled("luigis", enabled, float(n))
                               for n, enabled in enumerate(switches)))
        assert await store.controls("luigis") == Controls("luigis", False, 3)

    async def test_sold_out_toggles_idempotently(self, store: SessionStore) -> None:
        marked = await store.set_item_available("luigis", "calzone", False, 1.0)
        assert marked.sold_out == {"calzone"}
        assert (await store.set_item_available("luigis", "calzone", False, 2.0)).sold_out == {
            "calzone"}
        await store.set_item_available("luigis", "tiramisu", False, 3.0)
        assert (await store.controls("luigis")).sold_out == {"calzone", "tiramisu"}
        assert (await store.set_item_available("luigis", "calzone", True, 4.0)).sold_out == {
            "tiramisu"}
        assert (await store.set_item_available("luigis", "calzone", True, 5.0)).sold_out == {
            "tiramisu"}
        assert (await store.set_item_available("luigis", "never-sold-out", True, 6.0)
                ).sold_out == {"tiramisu"}
        assert (await store.controls("sushi")).sold_out == frozenset()
        # Marking items leaves the switch alone, and the switch the items.
        assert (await store.controls("luigis")).bot_enabled
        await store.set_bot_enabled("luigis", False, 7.0)
        assert await store.controls("luigis") == Controls("luigis", False, 1,
                                                          frozenset({"tiramisu"}))

    async def test_concurrent_toggles_of_one_item_end_as_the_last_call(
        self, store: SessionStore
    ) -> None:
        await asyncio.gather(*(store.set_item_available("luigis", "calzone", n % 2 == 1,
                                                        float(n)) for n in range(5)))
        assert (await store.controls("luigis")).sold_out == {"calzone"}

    async def test_controls_survive_close_and_reopen(
        self, backend: Backend, store: SessionStore
    ) -> None:
        if not backend.durable:
            pytest.skip(f"{backend.name} keeps nothing across a restart")
        await store.set_bot_enabled("luigis", False, 1.0)
        await store.set_item_available("luigis", "calzone", False, 2.0)
        await store.close()
        async with backend.new_store() as reopened:
            assert await reopened.controls("luigis") == Controls("luigis", False, 1,
                                                                 frozenset({"calzone"}))
