"""Taking a document in: its bytes stream from the request straight into the cipher and on into
the blob store — never whole in memory, never plaintext on disk. On the way the first bytes are
sniffed against the allow-list and the size is counted against the limit; any failure leaves
no blob behind (the store's writer discards it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from archive.blobs import BlobStore
from archive.documents.formats import SNIFF_BYTES, sanitise_filename, sniff
from archive.documents.service import StoredBlob
from archive.errors import FieldError, InvalidInput, PayloadTooLarge
from crypto.envelope import FieldContext
from crypto.streaming import BlobCipher


class UploadForm(Protocol):
    """A multipart upload as it arrives (the HTTP layer parses it)."""

    @property
    def filename(self) -> str | None:
        """The file part's name as the client sent it; known once the file part has begun."""
        ...

    @property
    def fields(self) -> Mapping[str, str]:
        """The other fields: those before the file while it streams, all of them afterwards."""
        ...

    def file_chunks(self) -> Iterator[bytes]:
        """The file part's bytes as they arrive; ends when the whole body has been read, and
        raises InvalidInput for a body without a file part or one that is cut off."""
        ...


def content_context(document_id: uuid.UUID, customer_id: uuid.UUID) -> FieldContext:
    """The AAD every document blob is sealed under (docs/crypto.md)."""
    return FieldContext("documents", "content", document_id, customer_id)


class BlobIntake:
    def __init__(self, cipher: BlobCipher, store: BlobStore, *, max_bytes: int) -> None:
        self.cipher, self.store, self.max_bytes = cipher, store, max_bytes

    def take(self, customer_id: uuid.UUID, document_id: uuid.UUID, form: UploadForm,
             early_check: Callable[[Mapping[str, str]], object] = lambda _fields: None) -> StoredBlob:
        """Seal the file part into the store under the document's id. `early_check` sees the
        fields that came before the file, so a bad `kind` fails before megabytes stream in."""
        key = str(document_id)
        guard = _Guard(form, self.max_bytes, early_check)
        with self.store.writer(key) as sink:
            sealed = self.cipher.encrypt(content_context(document_id, customer_id), guard.chunks(), sink)
        return StoredBlob(key, sealed, guard.content_type, sanitise_filename(form.filename))


class _Guard:
    """Passes the file's bytes on once the head is sniffed; stops at the size limit."""

    def __init__(self, form: UploadForm, max_bytes: int, early_check: Callable[[Mapping[str, str]], object]) -> None:
        self.form, self.max_bytes, self.early_check = form, max_bytes, early_check
        self.content_type = ""

    def chunks(self) -> Iterator[bytes]:
        head, size = bytearray(), 0
        for chunk in self.form.file_chunks():
            size += len(chunk)
            if size > self.max_bytes:
                raise PayloadTooLarge(f"A document may be at most {self.max_bytes} bytes; nothing was filed.")
            if self.content_type:
                yield chunk
                continue
            head += chunk
            if len(head) >= SNIFF_BYTES:
                self._sniff(bytes(head))
                yield bytes(head)
        if not size:
            raise InvalidInput("The file is empty; nothing was filed.", errors=[FieldError("file", "empty")])
        if not self.content_type:
            self._sniff(bytes(head))
            yield bytes(head)

    def _sniff(self, head: bytes) -> None:
        self.early_check(self.form.fields)
        self.content_type = sniff(head[:SNIFF_BYTES], self.form.filename or "")
