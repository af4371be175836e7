"""A bounded LRU with a time-to-live, for unwrapped data keys.

Small on purpose: the hot path is one dict lookup, one clock read and one `move_to_end` under
a lock. A TTL bounds how long a key stays in memory after its last unwrap, and lets a
destroy in another process take effect here within `ttl` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlLru(Generic[K, V]):
    """At most `size` entries, each dropped `ttl` seconds after it was put."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if size < 1 or ttl < 0:
            raise ValueError("cache size must be >= 1 and ttl >= 0")
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def discard(self, predicate: Callable[[K], bool]) -> None:
        """Drop every entry whose key matches (destroy and rotate invalidate this way)."""
        with self._lock:
            for key in [k for k in self._entries if predicate(k)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TtlLru(size={self._size}, ttl={self._ttl}, entries={len(self._entries)})"
