from typing import Any

import msgpack
import pytest

from storage.codec import MAX_SNAPSHOT_BYTES, decode_snapshot, encode_snapshot
from storage.errors import CorruptSnapshot, SnapshotTooLarge


def _blob_of_size(size: int) -> bytes:
    """A valid snapshot of exactly ``size`` bytes (for sizes well above 256)."""
    overhead = len(encode_snapshot({"v": 1, "pad": b"x" * 300})) - 300
    return encode_snapshot({"v": 1, "pad": b"x" * (size - overhead)})


def test_round_trip_keeps_every_primitive() -> None:
    data: dict[str, Any] = {
        "v": 3,
        "state": "browsing_items",
        "cart": [{"item": "margherita", "qty": 2, "price_minor": 950, "addons": []}],
        "choices": {"order_type": "delivery", "branch": None, "address": "1 Frith St, Soho"},
        "lat": 51.5136,
        "paid": False,
        "raw": b"\x00\xff",
        "note": "Ünïcödé 🍕",
    }
    assert decode_snapshot(encode_snapshot(data)) == data


def test_a_snapshot_exactly_at_the_limit_is_accepted() -> None:
    blob = _blob_of_size(MAX_SNAPSHOT_BYTES)
    assert len(blob) == MAX_SNAPSHOT_BYTES
    assert decode_snapshot(blob)["v"] == 1


def test_encode_refuses_a_snapshot_over_the_limit() -> None:
    with pytest.raises(SnapshotTooLarge, match=str(MAX_SNAPSHOT_BYTES)):
        _blob_of_size(MAX_SNAPSHOT_BYTES + 1)


def test_decode_refuses_a_blob_over_the_limit_before_unpacking() -> None:
    too_big = msgpack.packb({"v": 1, "pad": b"x" * MAX_SNAPSHOT_BYTES}, use_bin_type=True)
    with pytest.raises(SnapshotTooLarge):
        decode_snapshot(too_big)
    with pytest.raises(SnapshotTooLarge):
        decode_snapshot(b"\xc1" * (MAX_SNAPSHOT_BYTES + 1))


def test_encode_requires_an_int_version() -> None:
    with pytest.raises(ValueError, match="version"):
        encode_snapshot({"state": "checkout"})
    with pytest.raises(ValueError, match="version"):
        encode_snapshot({"v": "1"})


def test_encode_lets_msgpack_refuse_non_primitive_values() -> None:
    with pytest.raises(TypeError):
        encode_snapshot({"v": 1, "when": object()})


VALID = encode_snapshot({"v": 1, "state": "checkout", "cart": [1, 2, 3]})


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xc1", id="reserved-byte"),
        pytest.param(b"not msgpack at all, just text", id="text"),
        pytest.param(VALID[:-1], id="truncated"),
        pytest.param(VALID[: len(VALID) // 2], id="half"),
        pytest.param(VALID + b"\x00", id="trailing-data"),
        pytest.param(VALID + VALID, id="two-snapshots"),
        pytest.param(msgpack.packb([1, "v"]), id="array"),
        pytest.param(msgpack.packb(7), id="int"),
        pytest.param(msgpack.packb("v"), id="string"),
        pytest.param(msgpack.packb({"state": "checkout"}), id="no-version"),
        pytest.param(msgpack.packb({"v": "1"}), id="version-not-int"),
        pytest.param(msgpack.packb({"v": True}), id="version-bool"),
        pytest.param(msgpack.packb({"v": 1.0}), id="version-float"),
        pytest.param(msgpack.packb({1: 1, "v": 1}), id="int-key"),
        pytest.param(msgpack.packb({b"v": 1}, use_bin_type=True), id="bytes-key"),
        pytest.param(b"\x82\xa1v\x01\xa1\xff\x01", id="invalid-utf8"),
        pytest.param(msgpack.packb({"v": 1, "x": msgpack.ExtType(5, b"ext")}), id="ext-type"),
        pytest.param(b"\x82\xa1v\x01\xa1x" + b"\x91" * 5000 + b"\x01", id="deep-nesting"),
    ],
)
def test_decode_refuses_anything_but_a_versioned_map(blob: bytes) -> None:
    with pytest.raises(CorruptSnapshot):
        decode_snapshot(blob)
