"""Webhook bodies shaped as Meta sends them, signed with the benchmark's app secret.

The load generators never reuse the product's own helpers to build or sign
requests: a benchmark that shared a bug with the code under test would
measure a request the real Meta never sends.  Bodies are ASCII-escaped
compact JSON, as Meta's are (Meta: webhooks, "Payload").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any, Final

BENCH_SECRET: Final = b"bench-app-secret-not-for-production"
ACCESS_TOKEN: Final = "bench-access-token"
VERIFY_TOKEN: Final = "bench-verify-token"
LUIGIS_PHONE_NUMBER_ID: Final = "109876543210001"
WABA_ID: Final = "201234567890123"
DISPLAY_PHONE: Final = "15550001111"

# A customer's first words, long enough that the whole notification is about
# 1 KB: the size of a typical single-message webhook with contacts and context.
POOL_TEXT: Final = (
    "Hi! I'd like to order a couple of pizzas for tonight, one margherita and one "
    "pepperoni with extra cheese please, plus garlic bread and two cans of something "
    "cold. We are four people, so if you have a family deal that would be great. "
    "Could you also tell me roughly how long pickup from Soho takes around 7pm? One of "
    "us is vegetarian and another can't eat nuts, so please flag anything risky. Cheers!"
)


def encode(notification: dict[str, Any]) -> bytes:
    """Compact, ASCII-escaped JSON: the bytes the signature is computed over."""
    return json.dumps(notification, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def signature(body: bytes, secret: bytes = BENCH_SECRET) -> str:
    """The ``X-Hub-Signature-256`` header Meta would send with ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def notification(message: dict[str, Any], wa_id: str, name: str,
                 phone_number_id: str = LUIGIS_PHONE_NUMBER_ID) -> dict[str, Any]:
    """One message from one customer, wrapped in Meta's entry/change/value envelope."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_PHONE, "phone_number_id": phone_number_id},
        # Business-scoped user ids ride along since the 2026 rollout (Meta's webhook reference).
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id, "user_id": user_id(wa_id)}],
        "messages": [message],
    }
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}]}


def user_id(wa_id: str) -> str:
    """The business-scoped user id the benchmark pairs with ``wa_id``."""
    return f"GB.{wa_id}"


def _message(wamid: str, wa_id: str, kind: str) -> dict[str, Any]:
    return {"from": wa_id, "from_user_id": user_id(wa_id), "id": wamid,
            "timestamp": str(int(time.time())), "type": kind}


def text_message(wamid: str, wa_id: str, body: str) -> dict[str, Any]:
    """A typed message."""
    return {**_message(wamid, wa_id, "text"), "text": {"body": body}}


def tap_message(wamid: str, wa_id: str, option_id: str, title: str,
                reply_kind: str) -> dict[str, Any]:
    """A tap on a reply button (``button_reply``) or a list row (``list_reply``)."""
    tapped = {"type": reply_kind, reply_kind: {"id": option_id, "title": title}}
    return {**_message(wamid, wa_id, "interactive"), "interactive": tapped}


def location_message(wamid: str, wa_id: str, latitude: float, longitude: float,
                     address: str) -> dict[str, Any]:
    """A shared location pin."""
    pin = {"latitude": latitude, "longitude": longitude, "address": address}
    return {**_message(wamid, wa_id, "location"), "location": pin}


def pool_line(index: int, id_prefix: str, customers: int) -> bytes:
    """One ``signature TAB body`` line: a new message id, one of ``customers`` senders."""
    wa_id = f"4479{index % customers:08d}"
    wamid = f"wamid.{id_prefix}{index:09d}"
    body = encode(notification(text_message(wamid, wa_id, POOL_TEXT), wa_id,
                               f"Pool Customer {index % customers}"))
    return signature(body).encode("ascii") + b"\t" + body + b"\n"


def write_pool(path: Path, count: int, id_prefix: str, customers: int = 1000) -> Path:
    """Write ``count`` signed bodies with distinct message ids, one per line.

    The webhook deduplicates on the message id, and a duplicate costs less
    than a new message, so ingest pools are sized so that none is sent twice.
    """
    with path.open("wb") as out:
        for index in range(count):
            out.write(pool_line(index, id_prefix, customers))
    return path
