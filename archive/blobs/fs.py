"""Blobs as files under one directory (`<data_dir>/blobs/<last two characters>/<key>`).

A write goes to a temporary file in the target directory, is fsynced, renamed over the final
name and the directory fsynced: a crash leaves the old state or the new one, never half a blob.
Directories are 0700 and files 0600."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from archive.blobs.store import CHUNK_BYTES, BlobMissing, check_key

TEMP_PREFIX = ".partial-"


class FsBlobStore:
    name = "fs"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FsBlobStore({str(self.root)!r})"

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[-2:] / key

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        final = self.path(key)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        final.parent.mkdir(exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=final.parent)  # created 0600
        try:
            with os.fdopen(fd, "wb") as sink:
                yield sink
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        _fsync_dir(final.parent)

    def open(self, key: str) -> Iterator[bytes]:
        try:
            handle = self.path(key).open("rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        return _chunks(handle)

    def delete(self, key: str) -> None:
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            _fsync_dir(path.parent)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for fan in sorted(self.root.iterdir()):
            if fan.is_dir():
                yield from sorted(p.name for p in fan.iterdir() if not p.name.startswith(".") and p.is_file())


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
