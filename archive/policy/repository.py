"""Queries on the policy releases: the newest one, and recording a new one (flushes only)."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from archive.policy.models import PolicyRelease, Release

_NEWEST = (select(PolicyRelease.version, PolicyRelease.released_at, PolicyRelease.released_by, PolicyRelease.note)
           .order_by(PolicyRelease.id.desc()).limit(1))


def newest_release(target: Session | Connection) -> Release | None:
    row = target.execute(_NEWEST).first()
    return None if row is None else Release(row.version, row.released_at, row.released_by, row.note)


def add_release(session: Session, *, version: str, released_by: str, note: str) -> Release:
    row = PolicyRelease(version=version, released_by=released_by, note=note)
    session.add(row)
    session.flush()
    return Release(row.version, row.released_at, row.released_by, row.note)
