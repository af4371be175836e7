"""Blobs in an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph RGW …).

A write is a multipart upload streamed in parts of `PART_BYTES` (one part buffered at a time);
the object appears only when the upload completes, and an upload that fails is aborted — so a
write is atomic like the file store's. Small blobs go up in a single PUT."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from archive.blobs.store import CHUNK_BYTES, BlobMissing, check_key

if TYPE_CHECKING:
    from archive.settings import BlobSettings

PART_BYTES = 5 * 1024 * 1024  # the smallest part S3 accepts (but for the last): one part in memory


class S3BlobStore:
    name = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    @classmethod
    def from_settings(cls, blobs: BlobSettings) -> S3BlobStore:
        import boto3
        from botocore.config import Config

        if not blobs.s3_bucket:
            raise RuntimeError("ARCHIVE_BLOB_STORE=s3 needs ARCHIVE_S3_BUCKET")
        client = boto3.client(
            "s3", endpoint_url=blobs.s3_endpoint or None, region_name=blobs.s3_region,
            aws_access_key_id=blobs.s3_access_key.get_secret_value() if blobs.s3_access_key else None,
            aws_secret_access_key=blobs.s3_secret_key.get_secret_value() if blobs.s3_secret_key else None,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 5, "mode": "standard"}))
        return cls(client, blobs.s3_bucket, blobs.s3_prefix)

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[_MultipartWriter]:
        upload = _MultipartWriter(self.client, self.bucket, self._name(key))
        try:
            yield upload
            upload.complete()
        except BaseException:
            upload.abort()
            raise

    def open(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise BlobMissing(key) from None
        return _chunks(body)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def keys(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                yield str(item["Key"])[len(self.prefix):]


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


class _MultipartWriter:
    """Buffers one part; starts a multipart upload only when the blob outgrows a part."""

    def __init__(self, client: Any, bucket: str, name: str) -> None:
        self.client, self.bucket, self.name = client, bucket, name
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= PART_BYTES:
            self._send_part()
        return len(data)

    def _send_part(self) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.name)["UploadId"]
        number = len(self.parts) + 1
        sent = self.client.upload_part(Bucket=self.bucket, Key=self.name, UploadId=self.upload_id,
                                       PartNumber=number, Body=self.buffer)  # no copy: a fresh buffer follows
        self.parts.append({"ETag": sent["ETag"], "PartNumber": number})
        self.buffer = bytearray()

    def complete(self) -> None:
        if self.upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.name, Body=bytes(self.buffer))
            self.buffer = bytearray()
            return
        if self.buffer:
            self._send_part()
        self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.name, UploadId=self.upload_id,
                                              MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        if self.upload_id is not None:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.name, UploadId=self.upload_id)
