"""The canonical form of an event (format 1), the bytes the chain hashes.

Deterministic and versioned: the magic `AEv1`, then every column of `CANONICAL_COLUMNS` in
that order, each as a 4-byte big-endian length and its UTF-8 bytes. Integers are decimal,
booleans `1`/`0`, UUIDs lower-case hex with hyphens, timestamps integer microseconds (UTC), so
what comes back from either database is byte-for-byte what was hashed.

    hash(n) = SHA-256(hash(n-1) ‖ canonical(event n)),  hash(0) = 32 zero bytes
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

FORMAT = 1
MAGIC = b"AEv1"
GENESIS = bytes(32)

CANONICAL_COLUMNS = (
    "id", "format", "occurred_us", "actor_kind", "actor_id", "actor_name", "actor_roles", "action",
    "decision", "resource_type", "resource_id", "customer_ids", "purpose", "categories", "fields",
    "reason", "policy_rule", "policy_version", "request_id", "client_address", "lookup_hmacs",
    "break_glass", "extra",
)


_PREFIX = tuple(n.to_bytes(4, "big") for n in range(4096))


def canonical(row: Sequence[Any]) -> bytes:
    """Canonical bytes of a row whose values follow CANONICAL_COLUMNS.

    On the verify hot path: exact class checks and precomputed length prefixes keep it near
    the cost of the hashing itself."""
    parts = [MAGIC]
    append = parts.append
    prefix = _PREFIX
    for value in row:
        if value.__class__ is str:
            data = value.encode()
        elif value.__class__ is bool:
            data = b"1" if value else b"0"
        else:  # int, UUID: their str() is canonical
            data = str(value).encode()
        size = len(data)
        append(prefix[size] if size < 4096 else size.to_bytes(4, "big"))
        append(data)
    return b"".join(parts)


def link(prev_hash: bytes, canonical_bytes: bytes) -> bytes:
    return hashlib.sha256(prev_hash + canonical_bytes).digest()
