"""Where encrypted document blobs live: a small `BlobStore` protocol and its two stores, the
local file system (default, under `<data_dir>/blobs`) and any S3-compatible object store.
The stores move ciphertext only; sealing and opening happen in `crypto/` (opening only in
the gate)."""

from __future__ import annotations

from archive.blobs.fs import FsBlobStore
from archive.blobs.s3 import S3BlobStore
from archive.blobs.store import BlobMissing, BlobStore, BlobWriter, ChunkReader, check_key
from archive.settings import Settings

__all__ = ["BlobMissing", "BlobStore", "BlobWriter", "ChunkReader", "FsBlobStore", "S3BlobStore", "blob_store_from",
           "check_key"]


def blob_store_from(settings: Settings) -> BlobStore:
    """The store the settings name (ARCHIVE_BLOB_STORE)."""
    blobs = settings.blobs
    if blobs.blob_store == "s3":
        return S3BlobStore.from_settings(blobs)
    return FsBlobStore(settings.blobs_dir)
