"""X-Hub-Signature-256 over the exact body bytes, and the verify-token handshake."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest

from routes.whatsapp.signature import SignatureCheck, sign, verify_signature, verify_token_matches
from tests.conftest import WEBHOOK_FIXTURES

SECRET = b"test-app-secret"
RAW = (WEBHOOK_FIXTURES / "unicode_escaped.json").read_bytes()
HEADER = sign(SECRET, RAW)


def test_sign_matches_the_rfc_4231_vector() -> None:
    # RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
    assert sign(b"Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", HEADER)


def test_the_fixture_bytes_as_received_verify() -> None:
    assert verify_signature(SECRET, RAW, HEADER) is SignatureCheck.OK


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_reserialized_json_no_longer_matches_the_signature(ensure_ascii: bool) -> None:
    # Meta escapes "/" as "\/" and sends é as \u00e9; json.dumps writes neither the same way.
    reserialized = json.dumps(json.loads(RAW), ensure_ascii=ensure_ascii).encode()
    assert json.loads(reserialized) == json.loads(RAW)
    assert reserialized != RAW
    assert verify_signature(SECRET, reserialized, HEADER) is SignatureCheck.INVALID


@pytest.mark.parametrize("header", [None, ""])
def test_no_header_is_missing(header: str | None) -> None:
    assert verify_signature(SECRET, RAW, header) is SignatureCheck.MISSING


@pytest.mark.parametrize("header", [
    sign(b"another-secret", RAW),
    sign(SECRET, RAW + b" "),
    sign(SECRET, RAW[:-1]),
    "sha256=" + "é" * 64,
    HEADER[:-1] + "é",
    HEADER[:-1] + "\udce9",  # a lone surrogate, as surrogateescape decoding yields
    HEADER[:-2],
    HEADER + "00",
    HEADER + "\n",
    " " + HEADER,
    HEADER.replace("sha256=", "sha1="),
    HEADER.replace("sha256=", "SHA256="),
    HEADER.removeprefix("sha256="),
    "sha256=" + "g" * 64,
    HEADER[:39] + " " + HEADER[40:],  # bytes.fromhex would accept the space
])
def test_a_wrong_or_malformed_header_is_invalid(header: str) -> None:
    assert verify_signature(SECRET, RAW, header) is SignatureCheck.INVALID


def test_uppercase_hex_is_accepted_as_the_same_mac() -> None:
    # Meta sends lowercase; uppercase hex is the same MAC, so refusing it buys nothing.
    upper = "sha256=" + HEADER.removeprefix("sha256=").upper()
    assert verify_signature(SECRET, RAW, upper) is SignatureCheck.OK


def test_an_empty_app_secret_verifies_nothing() -> None:
    forged = "sha256=" + hmac.new(b"", RAW, hashlib.sha256).hexdigest()
    assert verify_signature(b"", RAW, forged) is SignatureCheck.INVALID
    with pytest.raises(ValueError):
        sign(b"", RAW)


@pytest.mark.parametrize(("expected", "given", "matches"), [
    ("verify-me", "verify-me", True),
    ("verify-me", "verify-you", False),
    ("verify-me", "verify-me ", False),
    ("verify-me", None, False),
    ("verify-me", "", False),
    ("", "", False),
    ("vérifié", "vérifié", True),
    ("verify-me", "vérify-me", False),
    ("verify-me", "verify-m\udce9", False),
])
def test_verify_token_compare(expected: str, given: str | None, matches: bool) -> None:
    assert verify_token_matches(expected, given) is matches
