"""The blob store contract: write a stream under a key atomically (all of it or nothing),
open a key as chunks, delete, exists, list. Keys are short names (a document id), never paths."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

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


class ChunkReader:
    """Chunks seen through `readinto`, as `crypto.streaming` reads its source. Closes the
    chunk iterator (and so the file or HTTP body behind it) on `close`."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readinto(self, buffer: memoryview, /) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk).cast("B")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
