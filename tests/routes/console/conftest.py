"""The real app with an admin token on loopback, as the staff API's tests have it."""

from tests.routes.staff.conftest import client, settings

__all__ = ["client", "settings"]
