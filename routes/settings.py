"""What ``serve`` runs on: the validated config plus secrets and flags from outside it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretBytes, SecretStr

from fsm.config import AppConfig


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the app factory needs; built by the CLI from flags and the environment.

    ``app_secret`` (``None``: signatures unchecked, ``--insecure-dev`` only),
    ``verify_token`` and ``access_token`` are pydantic secrets: ``repr`` and
    ``str`` show ``**********``, so a logged or printed ``Settings`` leaks
    nothing; ``get_secret_value()`` is the one way to read them. ``clock``
    returns Unix seconds. ``admin_token`` (``ORDERBOT_ADMIN_TOKEN``) may use
    the staff API for every restaurant; ``None``: only staff tokens work.
    """

    config: AppConfig
    app_secret: SecretBytes | None
    verify_token: SecretStr
    access_token: SecretStr
    graph_url: str
    clock: Callable[[], float] = field(default=time.time)
    admin_token: SecretStr | None = None
