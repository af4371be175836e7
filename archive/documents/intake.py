"""Taking a document in: its details (the form's small fields) and its bytes, which stream from
the request straight into the cipher and on into the blob store — never whole in memory, never
plaintext on disk. On the way the first bytes are sniffed against the allow-list and the size is
counted against the limit; any failure leaves no blob behind (the store's writer discards it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from archive.blobs import BlobStore
from archive.documents.formats import SNIFF_BYTES, sanitise_filename, sniff
from archive.errors import FieldError, InvalidInput, PayloadTooLarge
from archive.vocabulary import DOCUMENT_KINDS, DocumentKind, document_category
from crypto.envelope import FieldContext
from crypto.streaming import BlobCipher, BlobSealed


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


UPLOAD_FIELDS = frozenset({"file", "kind", "category", "document_date", "location", "supersedes", "contract_id"})
MAX_LOCATION = 200


@dataclass(frozen=True, slots=True)
class NewDocument:
    kind: DocumentKind
    document_date: date | None = None
    location: str | None = None
    supersedes: uuid.UUID | None = None
    contract_id: uuid.UUID | None = None

    @property
    def category(self) -> str:
        return document_category(self.kind).value


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """An encrypted blob written under `key`, with what sealing it produced."""

    key: str
    sealed: BlobSealed
    content_type: str
    filename: str


def check_fields(fields: Mapping[str, str]) -> NewDocument:
    """The upload's details, or InvalidInput naming every bad field."""
    new = _parse(fields, partial=False)
    assert new is not None  # without `partial`, a missing kind is an error (raised above)
    return new


def check_early(fields: Mapping[str, str]) -> None:
    """Check the fields that arrived before the file (a multipart body may send them after)."""
    _parse(fields, partial=True)


def _parse(fields: Mapping[str, str], *, partial: bool) -> NewDocument | None:
    errors: list[FieldError] = []
    kind = _kind(fields, errors, partial)
    if kind is not None and fields.get("category") and fields["category"] != document_category(kind).value:
        errors.append(FieldError("category", f"a {kind.value} is filed under {document_category(kind).value}, "
                                             f"not {fields['category']!r} (the kind decides it)"))
    document_date = _date(fields.get("document_date"), errors)
    location = (fields.get("location") or "").strip() or None
    if location is not None and len(location) > MAX_LOCATION:
        errors.append(FieldError("location", f"at most {MAX_LOCATION} characters"))
    supersedes, contract = _uuid(fields, "supersedes", errors), _uuid(fields, "contract_id", errors)
    if errors:
        raise InvalidInput("The document's details have problems; nothing was filed.", errors=errors)
    if kind is None:
        return None
    return NewDocument(kind, document_date, location, supersedes, contract)


def _kind(fields: Mapping[str, str], errors: list[FieldError], partial: bool) -> DocumentKind | None:
    raw = (fields.get("kind") or "").strip()
    if not raw:
        if not partial:
            errors.append(FieldError("kind", "required: one of the document kinds (DOMAIN.md)"))
        return None
    try:
        return DocumentKind(raw)
    except ValueError:
        errors.append(FieldError("kind", f"unknown kind {raw!r}; known: {', '.join(k.value for k in DOCUMENT_KINDS)}"))
        return None


def _date(raw: str | None, errors: list[FieldError]) -> date | None:
    if not raw or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors.append(FieldError("document_date", "a date as YYYY-MM-DD"))
        return None


def _uuid(fields: Mapping[str, str], name: str, errors: list[FieldError]) -> uuid.UUID | None:
    raw = (fields.get(name) or "").strip()
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        errors.append(FieldError(name, "a document id (UUID)" if name == "supersedes" else "a contract id (UUID)"))
        return None


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
