"""SQLite's write-ahead log is check-pointed by the background thread after a big commit, not
inside it; a file that is gone is left alone; in-memory databases are not touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, Table, insert, text

from archive import sqlite_wal
from archive.db import make_engine

BLOBS = Table("blobs", MetaData(), Column("id", Integer, primary_key=True), Column("data", LargeBinary))


@pytest.fixture
def checkpoints(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the background thread check-points (the real checkpoint, counted)."""
    calls: list[str] = []
    real = sqlite_wal.checkpoint

    def counted(path: str) -> sqlite_wal.Signature | None:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(sqlite_wal, "checkpoint", counted)
    return calls


def big_commit(engine: Engine) -> None:
    BLOBS.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(BLOBS), [{"id": i, "data": os.urandom(4096)} for i in range(1500)])  # ~6 MB


def test_a_commit_past_the_limit_is_checkpointed_in_the_background(tmp_path: Path, checkpoints: list[str]) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            # The commit itself leaves the pages in the log: SQLite's own checkpoint only past
            # the safety limit, far above this.
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == sqlite_wal.INLINE_CHECKPOINT_PAGES
            assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == sqlite_wal.CHECKPOINT_BYTES
        big_commit(engine)
        assert sqlite_wal.settle(timeout=30)
        assert checkpoints == [str(path.resolve())]
        assert path.stat().st_size > 6_000_000  # the pages were copied into the database file
        with engine.connect() as conn:
            busy, frames, done = conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)")).one()
            assert (busy, frames - done) == (0, 0)  # nothing was left to copy
            assert conn.exec_driver_sql("SELECT count(*) FROM blobs").scalar() == 1500
    finally:
        engine.dispose()


def test_a_small_commit_asks_for_no_checkpoint(tmp_path: Path, checkpoints: list[str]) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'small.db'}")
    try:
        BLOBS.create(engine)
        with engine.begin() as conn:
            conn.execute(insert(BLOBS), [{"id": 1, "data": b"x"}])
        assert sqlite_wal.settle(timeout=30)
        assert checkpoints == []
    finally:
        engine.dispose()


def test_reads_after_a_checkpoint_ask_for_no_other(tmp_path: Path, checkpoints: list[str]) -> None:
    """The log file keeps its size after a checkpoint until the next write reuses it: what was
    check-pointed is remembered, so each later check-in does not start an empty checkpoint."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reads.db'}")
    try:
        big_commit(engine)
        assert sqlite_wal.settle(timeout=30)
        assert len(checkpoints) == 1
        for _ in range(20):
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM blobs").scalar()
        assert sqlite_wal.settle(timeout=30)
        assert len(checkpoints) == 1
    finally:
        engine.dispose()


def test_a_database_that_is_gone_is_left_alone(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    sqlite_wal.checkpoint(str(missing))
    assert not missing.exists()  # not created by the attempt


def test_in_memory_databases_have_no_file_to_checkpoint() -> None:
    assert sqlite_wal.database_path(None) is None
    assert sqlite_wal.database_path(":memory:") is None
    assert sqlite_wal.database_path("file:x?mode=memory&cache=shared") is None
    engine = make_engine("sqlite://")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()

