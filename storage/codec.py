"""The msgpack snapshot codec: plain data in, bounded bytes out, and back.

A snapshot is a map of primitives carrying its schema version as an ``int``
under ``"v"``.  Decoding trusts nothing about the bytes: anything that is not
exactly one such map is :class:`~storage.errors.CorruptSnapshot`, and the
size limit holds in both directions so a bad row can never balloon memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgpack

from storage.errors import CorruptSnapshot, SnapshotTooLarge

MAX_SNAPSHOT_BYTES: Final = 64 * 1024
VERSION_KEY: Final = "v"

# No container can hold more items than the blob has bytes (every item takes at
# least one byte, every map entry two), so these bound the unpacker's
# allocations by the blob size instead of msgpack's much larger defaults.
_MAX_ITEMS: Final = MAX_SNAPSHOT_BYTES
_MAX_MAP_ENTRIES: Final = MAX_SNAPSHOT_BYTES // 2


def check_snapshot_size(blob: bytes) -> None:
    """Raise :class:`SnapshotTooLarge` if ``blob`` is over :data:`MAX_SNAPSHOT_BYTES`."""
    if len(blob) > MAX_SNAPSHOT_BYTES:
        message = f"snapshot is {len(blob)} bytes, the limit is {MAX_SNAPSHOT_BYTES}"
        raise SnapshotTooLarge(message)


def encode_snapshot(data: Mapping[str, Any]) -> bytes:
    """Pack ``data`` (primitives, with an ``int`` under ``"v"``) into a snapshot.

    Raises :class:`ValueError` without a version, :class:`TypeError` for a value
    msgpack cannot pack, and :class:`SnapshotTooLarge` over the size limit.
    """
    if not _is_version(data.get(VERSION_KEY)):
        message = f"a snapshot needs an int schema version under {VERSION_KEY!r}"
        raise ValueError(message)
    blob = msgpack.packb(dict(data), use_bin_type=True)
    check_snapshot_size(blob)
    return blob


def decode_snapshot(blob: bytes) -> dict[str, Any]:
    """Unpack a snapshot made by :func:`encode_snapshot`.

    Raises :class:`SnapshotTooLarge` over the size limit and
    :class:`CorruptSnapshot` for anything but one map with string keys and an
    ``int`` under ``"v"`` (garbage, truncated or trailing bytes included).
    """
    check_snapshot_size(blob)
    try:
        data = msgpack.unpackb(
            blob, raw=False, use_list=True, strict_map_key=True,
            max_str_len=MAX_SNAPSHOT_BYTES, max_bin_len=MAX_SNAPSHOT_BYTES,
            max_array_len=_MAX_ITEMS, max_map_len=_MAX_MAP_ENTRIES,
            # Snapshots hold primitives only; ext types (timestamps too) are corrupt.
            max_ext_len=0,
        )
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        # ValueError covers msgpack's ExtraData, FormatError, StackError and
        # truncated input, and UnicodeDecodeError for invalid UTF-8.
        message = f"snapshot of {len(blob)} bytes does not unpack: {exc}"
        raise CorruptSnapshot(message) from exc
    if not isinstance(data, dict):
        message = f"snapshot is a {type(data).__name__}, not a map"
        raise CorruptSnapshot(message)
    if not all(isinstance(key, str) for key in data):
        raise CorruptSnapshot("snapshot has a non-string top-level key")
    if not _is_version(data.get(VERSION_KEY)):
        message = f"snapshot has no int schema version under {VERSION_KEY!r}"
        raise CorruptSnapshot(message)
    return data


def _is_version(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
