"""Deployment settings from ``config.yaml``: the server, storage, sessions and WhatsApp.

Every section is optional in the file and every key has a default, so an absent
section is the same as ``{}``. Secrets never live here: tokens come from the
``WHATSAPP_*`` environment variables.
"""

from typing import Annotated

from pydantic import Field

from fsm.frozen import Frozen


class ServerConfig(Frozen):
    """Where the webhook server listens: ``host`` and TCP ``port`` (1-65535, default 8080)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] = 8080


class StorageConfig(Frozen):
    """The database file ``path`` and ``cache_size``, the conversations kept in memory."""

    path: Annotated[str, Field(min_length=1)] = "orderbot.db"
    cache_size: Annotated[int, Field(strict=True, ge=0)] = 10_000


class SessionConfig(Frozen):
    """How long an idle conversation keeps its state, in whole minutes (at least 1)."""

    ttl_minutes: Annotated[int, Field(strict=True, ge=1)] = 30


class WhatsAppConfig(Frozen):
    """Non-secret Graph API settings: ``graph_url``, the versioned API base URL."""

    graph_url: Annotated[str, Field(min_length=1)] = "https://graph.facebook.com/v23.0"
