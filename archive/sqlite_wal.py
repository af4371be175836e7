"""SQLite's write-ahead log checkpointed by a background thread, not inside whichever commit
happens to push the log past its limit.

In WAL mode a commit appends pages to the log; a checkpoint copies them back into the database
file and syncs it. By default SQLite does that inside the commit that leaves more than 1,000
pages in the log: the request (or import) that crosses the line waits while megabytes are
written and synced — 10 ms of an import's 100 (bench/intake.py), and a latency spike for
whichever web request draws it. Here the engine's connections check-point on their own only
past a high safety limit (`INLINE_CHECKPOINT_PAGES`), and when a connection goes back to the
pool with more than `CHECKPOINT_BYTES` of log that has not been check-pointed, a background
thread runs a PASSIVE checkpoint on a connection of its own: it copies what no reader still
needs and never blocks a reader or a writer. `journal_size_limit` shrinks the log file back to
that size when it is reused, so its size on disk tells when it has grown again.

Durability is as before while the thread keeps up: a committed transaction is in the log,
which SQLite replays after a crash; with `synchronous=NORMAL` a power cut (not a crash) can
roll back what was committed since the last checkpoint, as with SQLite's own checkpoints.
Should the thread fall behind, that window grows up to the safety limit (docs/operations.md)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import structlog

log = structlog.get_logger()

CHECKPOINT_BYTES = 4 * 1024 * 1024  # about SQLite's own trigger (1,000 pages of 4 KiB)
# If the thread ever falls behind (or dies), a commit past this many pages of log (~64 MB)
# check-points inline, as SQLite does by default past 1,000: the log cannot grow unbounded.
INLINE_CHECKPOINT_PAGES = 16_384
_REMEMBERED = 256  # files whose last checkpointed log is remembered (tests make thousands)

Signature = tuple[int, int]  # the log file's size and modification time


class _Checkpointer:
    """One thread for the process, check-pointing the database files handed to it."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._wanted: dict[str, Callable[[], bool]] = {}  # file -> whether its engine still wants it
        self._done: dict[str, Signature] = {}  # file -> its log's signature after the last checkpoint
        self._busy = False
        self._thread: threading.Thread | None = None

    def needs(self, path: str, signature: Signature) -> bool:
        """Whether a log of this signature holds pages no checkpoint has seen (a checkpoint
        leaves the log file as it is; only the next write changes it)."""
        return self._done.get(path) != signature

    def request(self, path: str, wanted: Callable[[], bool]) -> None:
        with self._lock:
            self._wanted[path] = wanted
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
                self._thread.start()
            self._lock.notify_all()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until no checkpoint is asked for or running (tests and benchmarks, between
        measurements and before removing a database); whether that happened in time."""
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
                wanted, self._wanted = self._wanted, {}
                self._busy = True
            try:
                for path, still in wanted.items():
                    if still():  # not for an engine disposed meanwhile (its files may be going)
                        self._remember(path, checkpoint(path))
            except Exception:  # never let the thread die: the next request would restart it anyway
                log.exception("sqlite.checkpoint_failed")
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _remember(self, path: str, signature: Signature | None) -> None:
        if signature is None:
            return
        self._done.pop(path, None)
        self._done[path] = signature
        while len(self._done) > _REMEMBERED:
            self._done.pop(next(iter(self._done)))


_checkpointer = _Checkpointer()


def _reset_after_fork() -> None:  # a child must not inherit a lock held by a thread it lacks
    global _checkpointer
    _checkpointer = _Checkpointer()


os.register_at_fork(after_in_child=_reset_after_fork)


def checkpoint(path: str) -> Signature | None:
    """A PASSIVE checkpoint of the database file at `path`, on a connection of its own; the
    log's signature afterwards. A file that is gone or busy is left alone (None)."""
    try:
        # mode=rw: never create a database that is not there.
        connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=1, check_same_thread=False)
    except sqlite3.Error:
        return None
    try:
        busy = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0]
        if busy:
            return None
        return _signature(path)
    except sqlite3.Error as error:
        log.info("sqlite.checkpoint_skipped", error=type(error).__name__)
        return None
    finally:
        connection.close()


def _signature(path: str) -> Signature | None:
    try:
        found = os.stat(path + "-wal")
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def database_path(database: str | None) -> str | None:
    """The file an SQLite URL's database names, or None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:") or "mode=memory" in database:
        return None
    return str(Path(database).resolve())


def after_checkin(path: str, wanted: Callable[[], bool]) -> None:
    """A connection went back to the pool: hand the file to the thread if its log holds more
    than `CHECKPOINT_BYTES` not yet check-pointed (a stat, about a microsecond, when it does
    not). `wanted` tells the thread whether the engine still wants it when its turn comes."""
    signature = _signature(path)
    if signature is not None and signature[0] > CHECKPOINT_BYTES and _checkpointer.needs(path, signature):
        _checkpointer.request(path, wanted)


def settle(timeout: float = 30.0) -> bool:
    """Wait for the background checkpoints asked for so far (`_Checkpointer.settle`)."""
    return _checkpointer.settle(timeout)
