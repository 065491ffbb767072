"""The shape of the interface: small roles, one composite, every backend plays every role."""

import inspect
from abc import ABC

import pytest

import storage.base
from storage.base import SessionStore
from storage.console_sessions import ConsoleSessionStorage
from storage.mail import InboxStorage, OutboxStorage, StatusStorage
from storage.roles import RecordStorage, SessionStorage, UnitOfWork
from storage.staff import ConversationLog, OrderBoard, RestaurantControls, StaffDirectory

ROLES = (UnitOfWork, SessionStorage, RecordStorage, InboxStorage, OutboxStorage, StatusStorage,
         OrderBoard, ConversationLog, RestaurantControls, StaffDirectory, ConsoleSessionStorage)


def test_the_composite_is_the_roles_and_nothing_more() -> None:
    from_roles = set().union(*(role.__abstractmethods__ for role in ROLES))
    assert SessionStore.__abstractmethods__ == from_roles
    assert sum(len(role.__abstractmethods__) for role in ROLES) == len(from_roles)


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.__name__)
def test_each_role_is_small_and_documented(role: type[ABC]) -> None:
    assert len(role.__abstractmethods__) <= 8
    assert inspect.getdoc(role)
    for name in role.__abstractmethods__:
        assert inspect.getdoc(getattr(role, name)), f"{role.__name__}.{name}"


def test_storage_base_still_exports_every_name_it_did() -> None:
    for name in ("SessionKey", "OrderRecord", "DraftRecord", "QuarantineRecord", "SessionRow",
                 "InboxRecord", "OutboxMessage", "OutboxRecord", "Changes", "SessionStore",
                 "order_lines"):
        assert hasattr(storage.base, name), name


async def test_every_backend_plays_every_role(store: SessionStore) -> None:
    for role in ROLES:
        assert isinstance(store, role)
