"""A bounded LRU with a time-to-live, for unwrapped data keys.

Small on purpose: the hot path is one dict lookup, one clock read and one `move_to_end`.
A TTL bounds how long a key stays in memory after its last unwrap, and lets a destroy in
another process take effect here within `ttl` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K", bound=tuple[int, ...])  # int tuples hash in C: see `get`
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
        # Bumped by every invalidation. A loader reads it before it reads the store and passes
        # it back to `put`: a value loaded before an invalidation is then never cached.
        self.generation = 0

    def get(self, key: K) -> V | None:
        # No lock on a hit: `dict.get` and `move_to_end` are each atomic under the GIL (keys
        # are tuples of ints, hashed in C), and every writer holds the lock. A concurrent
        # eviction between the two is harmless. This is the hot path of every seal and open.
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._expire(key, entry)
            return None
        try:  # noqa: SIM105 (contextlib.suppress costs more than the lookup it guards)
            self._entries.move_to_end(key)
        except KeyError:
            pass  # evicted meanwhile; the value is still good for this call
        return entry[1]

    def _expire(self, key: K, entry: tuple[float, V]) -> None:
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]

    def put(self, key: K, value: V, *, generation: int | None = None) -> None:
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def discard(self, predicate: Callable[[K], bool]) -> None:
        """Drop every entry whose key matches (destroy and rotate invalidate this way)."""
        with self._lock:
            self.generation += 1
            for key in [k for k in self._entries if predicate(k)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TtlLru(size={self._size}, ttl={self._ttl}, entries={len(self._entries)})"
