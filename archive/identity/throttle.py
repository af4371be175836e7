"""Login throttling: failures counted per (username, address) and per address.

Each counter has several windows of growing length (e.g. 5/minute; 20/hour; 100/day), so
back-off grows as failures continue: the minute window lets go quickly, the hour and day
windows hold a persistent guesser much longer. Unknown usernames are counted exactly like
known ones, so a 429 says nothing about who exists; a correct login from another address is
never blocked by someone else's failures.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from archive.errors import TooManyAttempts


class LoginThrottle:
    def __init__(self, *, per_user: str, per_address: str, storage_uri: str = "memory://") -> None:
        self._storage = storage_from_string(storage_uri)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._per_user: list[RateLimitItem] = parse_many(per_user)
        self._per_address: list[RateLimitItem] = parse_many(per_address)

    def _counters(self, username: str, address: str) -> list[tuple[RateLimitItem, str]]:
        user_key = f"login:user:{username.casefold()}:{address}"
        addr_key = f"login:addr:{address}"
        return [(item, user_key) for item in self._per_user] + [(item, addr_key) for item in self._per_address]

    def check(self, username: str, address: str) -> None:
        """Raise TooManyAttempts (with the longest wait) while any window is exhausted."""
        waits = [
            self._limiter.get_window_stats(item, key).reset_time - time.time()
            for item, key in self._counters(username, address)
            if not self._limiter.test(item, key)
        ]
        if waits:
            raise TooManyAttempts(
                "Too many failed sign-in attempts; try again later.", retry_after=max(1, math.ceil(max(waits)))
            )

    def failed(self, username: str, address: str) -> None:
        for item, key in self._counters(username, address):
            self._limiter.hit(item, key)

    def reset(self) -> None:
        self._storage.reset()
