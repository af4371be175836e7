"""Department codes and usernames by id, cached: every customer shown names its department and
owner, and neither changes once created (codes and usernames are permanent identifiers), so a
read need not ask the database for them each time (IdentityRepository does, on a miss). Entries
expire after a minute anyway."""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy.orm import Session

from archive.identity.repository import IdentityRepository

TTL_SECONDS = 60.0
LIMIT = 20_000


class Names:
    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, uuid.UUID], tuple[float, str | None]] = {}

    def _get(self, session: Session, kind: str, key: uuid.UUID) -> str | None:
        now = time.monotonic()
        hit = self._entries.get((kind, key))
        if hit is not None and hit[0] > now:
            return hit[1]
        repo = IdentityRepository(session)
        if kind == "department":
            department = repo.department(key)
            value = department.code if department is not None else None
        else:
            user = repo.user(key)
            value = user.username if user is not None else None
        with self._lock:
            if len(self._entries) >= LIMIT:
                self._entries.clear()
            self._entries[(kind, key)] = (now + self._ttl, value)
        return value

    def department_code(self, session: Session, department_id: uuid.UUID | None) -> str | None:
        return None if department_id is None else self._get(session, "department", department_id)

    def username(self, session: Session, user_id: uuid.UUID | None) -> str | None:
        return None if user_id is None else self._get(session, "user", user_id)
