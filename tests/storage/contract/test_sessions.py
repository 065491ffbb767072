"""The contract of :class:`storage.roles.SessionStorage`: snapshots of conversations."""

from storage.base import Changes, SessionStore
from storage.codec import decode_snapshot
from tests.storage.contract.support import ALICE, BOB, CAROL_AT_SUSHI, order, snapshot


class TestSessionStorage:
    """load_snapshot, delete_session, list_sessions (written by commit)."""

    async def test_unknown_key_loads_none(self, store: SessionStore) -> None:
        assert await store.load_snapshot(ALICE) is None

    async def test_commit_then_load(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, snapshot("choosing_category")))
        assert decode_snapshot(await store.load_snapshot(ALICE) or b"")["state"] == (
            "choosing_category"
        )
        assert await store.load_snapshot(BOB) is None

    async def test_commit_overwrites(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, snapshot("choosing_category")))
        await store.commit(Changes(ALICE, 11.0, snapshot("checkout")))
        assert await store.load_snapshot(ALICE) == snapshot("checkout")
        [row] = await store.list_sessions()
        assert row.updated_at == 11.0

    async def test_commit_without_snapshot_keeps_the_stored_one(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 10.0, snapshot("checkout")))
        await store.commit(Changes(ALICE, 11.0, orders=[order(ALICE, "LU-0001")]))
        assert await store.load_snapshot(ALICE) == snapshot("checkout")

    async def test_load_snapshots_of_one_restaurant_at_once(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 1.0, snapshot("checkout")))
        await store.commit(Changes(BOB, 1.0, snapshot("choosing_category")))
        await store.commit(Changes(CAROL_AT_SUSHI, 1.0, snapshot("checkout")))
        customers = [BOB.customer_id, ALICE.customer_id, "447700900999",
                     CAROL_AT_SUSHI.customer_id, ALICE.customer_id]

        found = await store.load_snapshots(ALICE.restaurant_id, customers)

        assert found == {ALICE.customer_id: snapshot("checkout"),
                         BOB.customer_id: snapshot("choosing_category")}
        assert await store.load_snapshots(ALICE.restaurant_id, []) == {}

    async def test_delete_session(self, store: SessionStore) -> None:
        await store.commit(Changes(ALICE, 1.0, snapshot("checkout")))
        await store.commit(Changes(BOB, 1.0, snapshot("checkout")))
        assert await store.delete_session(ALICE) is True
        assert await store.delete_session(ALICE) is False
        assert await store.load_snapshot(ALICE) is None
        assert await store.load_snapshot(BOB) == snapshot("checkout")

    async def test_list_sessions_newest_first_filtered_and_limited(
        self, store: SessionStore
    ) -> None:
        await store.commit(Changes(ALICE, 10.0, snapshot("a")))
        await store.commit(Changes(CAROL_AT_SUSHI, 30.0, snapshot("c")))
        await store.commit(Changes(BOB, 20.0, snapshot("b")))

        rows = await store.list_sessions()
        assert [row.key for row in rows] == [CAROL_AT_SUSHI, BOB, ALICE]
        assert rows[1].snapshot == snapshot("b")
        assert [row.key for row in await store.list_sessions("luigis")] == [BOB, ALICE]
        assert [row.key for row in await store.list_sessions(limit=2)] == [CAROL_AT_SUSHI, BOB]
        assert await store.list_sessions("nobody") == []
