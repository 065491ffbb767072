"""The contract of :class:`storage.staff.StaffDirectory`: staff tokens, kept as hashes."""

import hashlib

import pytest

from storage.base import SessionStore
from storage.errors import StorageError
from storage.staff import StaffMember
from tests.storage.contract.support import Backend


def member(restaurant_id: str, name: str, token: str, at: float = 1.0) -> StaffMember:
    return StaffMember(restaurant_id, name, hashlib.sha256(token.encode()).hexdigest(), at)


SAM = member("luigis", "sam", "token-sam")
ANA = member("luigis", "ana", "token-ana", 2.0)
KEN = member("sushi", "ken", "token-ken", 3.0)


class TestStaffDirectory:
    """Adding, listing, finding by token hash and revoking staff."""

    async def test_staff_by_restaurant_then_name(self, store: SessionStore) -> None:
        assert await store.staff() == []
        for added in (SAM, KEN, ANA):
            await store.add_staff(added)
        assert await store.staff() == [ANA, SAM, KEN]
        assert await store.staff("luigis") == [ANA, SAM]
        assert await store.staff("sushi") == [KEN]
        assert await store.staff("nowhere") == []

    async def test_a_token_hash_finds_its_member(self, store: SessionStore) -> None:
        await store.add_staff(SAM)
        await store.add_staff(KEN)
        assert await store.staff_by_token_hash(SAM.token_hash) == SAM
        assert await store.staff_by_token_hash(KEN.token_hash) == KEN
        assert await store.staff_by_token_hash(member("luigis", "x", "guess").token_hash) is None

    async def test_a_name_is_taken_once_per_restaurant(self, store: SessionStore) -> None:
        await store.add_staff(SAM)
        with pytest.raises(StorageError, match="'sam' is already taken at 'luigis'"):
            await store.add_staff(member("luigis", "sam", "another-token"))
        await store.add_staff(member("sushi", "sam", "sushi-sam"))
        assert await store.staff_by_token_hash(SAM.token_hash) == SAM
        assert [m.restaurant_id for m in await store.staff()] == ["luigis", "sushi"]

    async def test_a_token_hash_is_unique(self, store: SessionStore) -> None:
        await store.add_staff(SAM)
        with pytest.raises(StorageError, match="token"):
            await store.add_staff(member("sushi", "ken", "token-sam"))
        assert await store.staff() == [SAM]

    async def test_revoking_removes_the_token(self, store: SessionStore) -> None:
        await store.add_staff(SAM)
        await store.add_staff(ANA)
        assert await store.revoke_staff("luigis", "sam") is True
        assert await store.revoke_staff("luigis", "sam") is False
        assert await store.revoke_staff("sushi", "ana") is False
        assert await store.staff_by_token_hash(SAM.token_hash) is None
        assert await store.staff() == [ANA]
        await store.add_staff(SAM)  # the name is free again
        assert await store.staff("luigis") == [ANA, SAM]

    async def test_staff_survive_close_and_reopen(
        self, backend: Backend, store: SessionStore
    ) -> None:
        if not backend.durable:
            pytest.skip(f"{backend.name} keeps nothing across a restart")
        await store.add_staff(SAM)
        await store.close()
        async with backend.new_store() as reopened:
            assert await reopened.staff_by_token_hash(SAM.token_hash) == SAM
