"""A 50 MB document through a real `archive serve`, on the file-system blob store and on S3
(SeaweedFS): upload and download round-trip with the server's memory sampled all along — it
must stay far below the file's size, since the body streams through the cipher in segments.
And a damaged blob breaks a real HTTP transfer off (the client never sees a clean end)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.archive.documents.seaweed import SeaweedS3, WeedUnavailable, running_seaweedfs
from tests.processes import env_with, run, serving

pytestmark = pytest.mark.slow
PASSWORD = "documents-process-password"
SIZE = 50 * 1024 * 1024
CHUNK = 256 * 1024
BOUNDARY = "ArchiveProcessBoundary42"
MAX_GROWTH = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    try:
        with running_seaweedfs(tmp_path_factory.mktemp("seaweed"), bucket="archive-documents") as s3:
            yield s3
    except WeedUnavailable as why:
        pytest.skip(f"SeaweedFS cannot start here: {why}")


class PeakRss:
    """Samples a process's resident memory every few milliseconds while active."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self.baseline = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "serve" in cmdline and port in cmdline:
            return int(process.pid)
    raise AssertionError(f"no archive serve process on port {port}")


def multipart_stream(size: int, digest: hashlib._Hash) -> tuple[Iterator[bytes], int]:
    """A PDF-looking file of `size` bytes, generated as it is sent (never whole in memory)."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ncontract_copy\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        sent = 0
        while sent < size:
            chunk = os.urandom(min(CHUNK, size - sent))
            if sent == 0:
                chunk = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + chunk[15:]
            digest.update(chunk)
            sent += len(chunk)
            yield chunk
        yield tail

    return chunks(), len(head) + size + len(tail)


def upload(client: httpx.Client, customer: str, size: int) -> tuple[dict[str, object], str]:
    digest = hashlib.sha256()
    body, length = multipart_stream(size, digest)
    response = client.post(f"/api/v1/customers/{customer}/documents", content=body,
                           headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                                    "Content-Length": str(length), "X-Purpose": "sales_followup"})
    assert response.status_code == 201, response.text
    return response.json(), digest.hexdigest()


def download(client: httpx.Client, document_id: object) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with client.stream("GET", f"/api/v1/documents/{document_id}/content",
                       headers={"X-Purpose": "sales_followup"}) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


@contextlib.contextmanager
def archive_server(tmp: Path, **extra: str) -> Iterator[tuple[str, httpx.Client, str]]:
    """A migrated archive with one rep and one customer of theirs, served for real."""
    data = tmp / "data"
    env = env_with(ARCHIVE_DATA_DIR=str(data), ARCHIVE_ENV="development", **extra)
    env.pop("ARCHIVE_DATABASE_URL", None)
    for command in (("db", "upgrade"), ("departments", "add", "SALES", "Sales"),
                    ("users", "add", "sales_rep", "--role", "sales_rep", "--department", "SALES",
                     "--password", PASSWORD)):
        done = run(*command, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    with serving(env, log=tmp / "serve.log") as base:
        token = httpx.post(base + "/api/v1/auth/token",
                           data={"username": "sales_rep", "password": PASSWORD}).json()["access_token"]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            made = client.post("/api/v1/customers", json={"kind": "individual", "name": "测试客户"},
                               headers={"X-Purpose": "sales_followup"})
            assert made.status_code == 201, made.text
            yield base, client, str(made.json()["id"])


def round_trip(base: str, client: httpx.Client, customer: str, label: str) -> dict[str, object]:
    warm, _ = upload(client, customer, 300_000)  # load every module once before measuring
    download(client, warm["id"])
    with PeakRss(server_pid(base)) as up:
        doc, sha = upload(client, customer, SIZE)
    with PeakRss(server_pid(base)) as down:
        size, got = download(client, doc["id"])
    assert doc["sha256"] == sha and doc["size"] == SIZE and doc["content_type"] == "application/pdf"
    assert (size, got) == (SIZE, sha)
    mib = 1024 * 1024
    print(f"\n{label}: 50 MiB upload peak RSS growth {up.growth / mib:.1f} MiB, "
          f"download {down.growth / mib:.1f} MiB (server baseline {up.baseline / mib:.0f} MiB)")
    assert up.growth < MAX_GROWTH and down.growth < MAX_GROWTH
    return doc


def assert_broken_transfer(client: httpx.Client, document_id: object) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        download(client, document_id)


def test_50_mb_round_trip_on_the_file_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with archive_server(tmp_path) as (base, client, customer):
        with capsys.disabled():
            doc = round_trip(base, client, customer, "file-system blob store")
        key = str(doc["id"])
        blob = tmp_path / "data" / "blobs" / key[-2:] / key
        assert blob.stat().st_size > SIZE
        with blob.open("r+b") as f:  # one bit, in the middle of the blob
            f.seek(SIZE // 2)
            byte = f.read(1)
            f.seek(SIZE // 2)
            f.write(bytes([byte[0] ^ 1]))
        assert_broken_transfer(client, doc["id"])


def test_50_mb_round_trip_on_seaweedfs(seaweed: SeaweedS3, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with archive_server(tmp_path, **seaweed.env(prefix=f"{tmp_path.name}/")) as (base, client, customer):
        with capsys.disabled():
            round_trip(base, client, customer, "S3 blob store (SeaweedFS)")
        assert not (tmp_path / "data" / "blobs").exists()
        small, _ = upload(client, customer, 600_000)
        s3, name = seaweed.client(), f"{tmp_path.name}/{small['id']}"
        sealed = bytearray(s3.get_object(Bucket=seaweed.bucket, Key=name)["Body"].read())
        sealed[100] ^= 1
        s3.put_object(Bucket=seaweed.bucket, Key=name, Body=bytes(sealed))
        assert_broken_transfer(client, small["id"])


def test_a_streaming_upload_holds_no_write_lock(tmp_path: Path) -> None:
    """SQLite has one writer at a time. While an upload's body is still streaming in (decided,
    sealed as it arrives, not yet filed), the server's other requests — each writes at least its
    audit event — go through at once: the upload holds no transaction while its body streams."""
    with archive_server(tmp_path) as (_base, client, customer):
        resume, streaming = threading.Event(), threading.Event()
        digest = hashlib.sha256()
        body, length = multipart_stream(16 * 1024 * 1024, digest)

        def stalling() -> Iterator[bytes]:
            for n, chunk in enumerate(body):
                if n == 48:  # 12 MiB sent: far beyond what the server buffers before the app reads it
                    streaming.set()
                    assert resume.wait(60)
                yield chunk

        answer: list[httpx.Response] = []

        def send() -> None:
            answer.append(client.post(f"/api/v1/customers/{customer}/documents", content=stalling(),
                                      headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                                               "Content-Length": str(length), "X-Purpose": "sales_followup"}))

        uploading = threading.Thread(target=send)
        uploading.start()
        try:
            assert streaming.wait(60)
            time.sleep(0.5)
            started = time.monotonic()
            listed = client.get(f"/api/v1/customers/{customer}/documents", headers={"X-Purpose": "sales_followup"})
            made = client.post("/api/v1/customers", json={"kind": "individual", "name": "另一位客户"},
                               headers={"X-Purpose": "sales_followup"})
            waited = time.monotonic() - started
        finally:
            resume.set()
            uploading.join(120)
        assert listed.status_code == 200 and made.status_code == 201, (listed.text, made.text)
        assert waited < 3, f"other writers waited {waited:.1f} s behind a streaming upload"
        assert answer and answer[0].status_code == 201, answer[0].text if answer else "no answer"
        assert answer[0].json()["sha256"] == digest.hexdigest()
