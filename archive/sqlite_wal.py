"""SQLite's write-ahead log checkpointed by a background thread, not inside whichever commit
happens to push the log past its limit.

In WAL mode a commit appends pages to the log; a checkpoint copies them back into the database
file and syncs it. By default SQLite does that inside the commit that leaves more than 1,000
pages in the log: the request (or import) that crosses the line waits while megabytes are
written and synced — 10 ms of an import's 100 (bench/intake.py), and a latency spike for
whichever web request draws it. Here the engine's connections check-point on their own only
past a high safety limit (`INLINE_CHECKPOINT_PAGES`), and when a connection goes back to the
pool with more than `CHECKPOINT_BYTES` in the log, a background thread runs a PASSIVE
checkpoint on a connection of its own: it copies what no reader still needs and never blocks
a reader or a writer. (`journal_size_limit` shrinks the log file back to that size once it
is reused, so its size on disk tells when it has grown again.) Nothing about durability changes: a committed transaction is in the
log, which SQLite replays after a crash (docs/operations.md "SQLite")."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote

import structlog

log = structlog.get_logger()

CHECKPOINT_BYTES = 4 * 1024 * 1024  # about SQLite's own trigger (1,000 pages of 4 KiB)
# If the thread ever falls behind (or dies), a commit past this many pages of log (~64 MB)
# check-points inline, as SQLite does by default past 1,000: the log cannot grow unbounded.
INLINE_CHECKPOINT_PAGES = 16_384


class _Checkpointer:
    """One thread for the process, check-pointing the database files handed to it."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._wanted: set[str] = set()
        self._busy = False
        self._thread: threading.Thread | None = None

    def request(self, path: str) -> None:
        with self._lock:
            self._wanted.add(path)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
                self._thread.start()
            self._lock.notify_all()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until no checkpoint is asked for or running (tests and benchmarks, between
        measurements); whether that happened within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._wanted or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._wanted:
                    self._lock.wait()
                paths, self._wanted = self._wanted, set()
                self._busy = True
            try:
                for path in paths:
                    checkpoint(path)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()


_checkpointer = _Checkpointer()


def checkpoint(path: str) -> None:
    """A PASSIVE checkpoint of the database file at `path`, on a connection of its own. A file
    that is gone (a test's temporary database) or busy is left alone: the next turn retries."""
    try:
        # mode=rw: never create a database that is not there.
        connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=1, check_same_thread=False)
    except sqlite3.Error:
        return
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as error:
        log.info("sqlite.checkpoint_skipped", error=type(error).__name__)
    finally:
        connection.close()


def database_path(database: str | None) -> str | None:
    """The file an SQLite URL's database names, or None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:") or "mode=memory" in database:
        return None
    return str(Path(database).resolve())


def after_checkin(path: str) -> None:
    """A connection went back to the pool: hand the file to the thread if its log has grown
    past `CHECKPOINT_BYTES` (a stat, about a microsecond, when it has not)."""
    try:
        size = os.stat(path + "-wal").st_size
    except OSError:
        return
    if size > CHECKPOINT_BYTES:
        _checkpointer.request(path)


def settle(timeout: float = 30.0) -> bool:
    """Wait for the background checkpoints asked for so far (`_Checkpointer.settle`)."""
    return _checkpointer.settle(timeout)
