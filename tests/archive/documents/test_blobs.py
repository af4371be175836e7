"""The blob store contract, on the file system and on a real S3 endpoint (SeaweedFS): a write
appears whole or not at all, chunks come back in order, delete/exists/keys agree."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.blobs import BlobMissing, BlobStore, ChunkReader, FsBlobStore, S3BlobStore, check_key
from archive.blobs import s3 as s3_module
from tests.archive.documents.seaweed import SeaweedS3, WeedUnavailable, running_seaweedfs


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    try:
        with running_seaweedfs(tmp_path_factory.mktemp("seaweed")) as s3:
            yield s3
    except WeedUnavailable as why:
        pytest.skip(f"SeaweedFS cannot start here: {why}")


@pytest.fixture(params=["fs", pytest.param("s3", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "fs":
        return FsBlobStore(tmp_path / "blobs")
    s3: SeaweedS3 = request.getfixturevalue("seaweed")
    return S3BlobStore(s3.client(), s3.bucket, prefix=f"{tmp_path.name}/")


class Boom(Exception):
    pass


def write_then_fail(store: BlobStore, key: str, data: bytes) -> None:
    with store.writer(key) as sink:
        sink.write(data)
        raise Boom


def test_a_write_appears_whole_and_reads_back_in_order(store: BlobStore) -> None:
    data = os.urandom(700_000)
    with store.writer("doc-1") as sink:
        for i in range(0, len(data), 100_000):
            sink.write(data[i:i + 100_000])
    assert store.exists("doc-1") and list(store.keys()) == ["doc-1"]
    assert b"".join(store.open("doc-1")) == data
    reader, buffer = ChunkReader(store.open("doc-1")), bytearray(300_000)
    assert reader.readinto(memoryview(buffer)) > 0
    reader.close()


def test_a_failed_write_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(Boom):
        write_then_fail(store, "doc-2", b"x" * 1000)
    assert not store.exists("doc-2") and list(store.keys()) == []
    with pytest.raises(BlobMissing):
        store.open("doc-2")


def test_delete_is_idempotent_and_keys_are_names_not_paths(store: BlobStore) -> None:
    with store.writer("doc-3") as sink:
        sink.write(b"")
    assert b"".join(store.open("doc-3")) == b""
    store.delete("doc-3")
    store.delete("doc-3")
    assert not store.exists("doc-3")
    for bad in ("../etc/passwd", "a/b", ".hidden", "x", ""):
        with pytest.raises(ValueError, match="blob key"):
            check_key(bad)
        with pytest.raises(ValueError, match="blob key"):
            store.exists(bad)


@pytest.mark.slow
def test_large_s3_writes_go_up_in_parts_and_a_failure_aborts_them(seaweed: SeaweedS3) -> None:
    assert s3_module.PART_BYTES == 5 * 1024 * 1024
    client = seaweed.client()
    store = S3BlobStore(client, seaweed.bucket, prefix="parts/")
    data = os.urandom(11 * 1024 * 1024 + 5)
    with store.writer("big") as sink:
        for i in range(0, len(data), 256 * 1024):
            sink.write(data[i:i + 256 * 1024])
        assert sink.upload_id is not None and len(sink.parts) == 2
    assert b"".join(store.open("big")) == data
    with pytest.raises(Boom):
        write_then_fail(store, "broken", os.urandom(6 * 1024 * 1024))
    assert not store.exists("broken")
    assert not client.list_multipart_uploads(Bucket=seaweed.bucket, Prefix="parts/").get("Uploads")


def test_the_file_store_is_private_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    with store.writer("0190-abcd") as sink:
        sink.write(b"sealed")
    with pytest.raises(Boom):
        write_then_fail(store, "0190-abce", b"half")
    path = store.path("0190-abcd")
    assert path.parent.name == "cd" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "blobs").stat().st_mode) == 0o700
    assert sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()) == ["0190-abcd"]
