"""The blob store contract: write a stream under a key atomically (all of it or nothing),
open a key as chunks, delete, exists, list. Keys are short names (a document id), never paths."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from crypto.streaming import ChunkStream

KEY = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{2,127}$")
CHUNK_BYTES = 256 * 1024


class BlobMissing(LookupError):
    """No blob under this key."""


def check_key(key: str) -> str:
    if not KEY.match(key):
        raise ValueError("a blob key is 3-128 letters, digits, '.', '_' or '-', not starting with a symbol")
    return key


class BlobWriter(Protocol):
    def write(self, data: bytes, /) -> object: ...


class BlobStore(Protocol):
    """Ciphertext in, ciphertext out. `writer(key)` yields a sink; the blob appears under the
    key only when the block ends without an error, otherwise nothing is left behind."""

    name: str

    def writer(self, key: str) -> AbstractContextManager[BlobWriter]: ...

    def open(self, key: str) -> Iterator[bytes]:
        """The blob's bytes in chunks; raises BlobMissing (at once, not when iterated)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; no error when it is already gone."""
        ...

    def exists(self, key: str) -> bool: ...

    def keys(self) -> Iterator[str]: ...


class ChunkReader(ChunkStream):
    """A stored blob's chunks, as `crypto.streaming` reads its source; closing it closes the
    file or HTTP body behind them."""
