"""The rules of filing a document: which details are valid, what a new version may supersede,
and how a document is described (metadata only — content is opened by the gate)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError

from archive.blobs import BlobStore
from archive.documents.models import Document
from archive.documents.repository import DocumentRepository
from archive.errors import Conflict, FieldError, InvalidInput
from archive.policy.decision import PurposeDecision
from archive.vocabulary import DOCUMENT_KINDS, DocumentKind, document_category
from crypto.streaming import BlobSealed

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
class DocumentContent:
    """An admitted document's metadata and its plaintext, as segments that end cleanly only
    when the whole blob authenticated and matched its recorded SHA-256."""

    document: dict[str, object]
    filename: str
    content_type: str
    size: int
    chunks: Iterator[bytes]


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


class DocumentRegistry:
    """Files documents; flushes, never commits."""

    def __init__(self, repo: DocumentRepository) -> None:
        self.repo = repo

    def file(self, *, document_id: uuid.UUID, customer_id: uuid.UUID, new: NewDocument, stored: StoredBlob,
             uploaded_by: uuid.UUID | None) -> Document:
        chain_id = document_id
        if new.supersedes is not None:
            chain_id = self._supersedable(customer_id, new.supersedes).chain_id
        if new.contract_id is not None and self.repo.contract_customer(new.contract_id) != customer_id:
            raise InvalidInput("The contract is not this customer's.",
                               errors=[FieldError("contract_id", "no such contract of this customer")])
        document = Document(
            id=document_id, customer_id=customer_id, kind=new.kind.value, category=new.category,
            contract_id=new.contract_id, document_date=new.document_date, location=new.location,
            filename=stored.filename, content_type=stored.content_type, size=stored.sealed.plaintext_size,
            sha256=stored.sealed.sha256_hex, blob_key=stored.key, ciphertext_size=stored.sealed.ciphertext_size,
            dek_version=stored.sealed.dek_version, supersedes_id=new.supersedes, chain_id=chain_id,
            uploaded_by=uploaded_by)
        try:
            with self.repo.session.begin_nested():
                self.repo.add(document)
        except IntegrityError:
            raise Conflict("Another new version of that document was filed at the same moment; "
                           "read the current version and amend that.") from None
        return document

    def _supersedable(self, customer_id: uuid.UUID, prior_id: uuid.UUID) -> Document:
        prior = self.repo.get(prior_id)
        if prior is None or prior.customer_id != customer_id:
            raise InvalidInput("Only a document of the same customer can be superseded.",
                               errors=[FieldError("supersedes", "no such document of this customer")])
        later = self.repo.successor(prior.id)
        if later is not None:
            raise Conflict(f"Document {prior.id} was already superseded by {later.id}; amend the current version "
                           "(nothing is overwritten, so a version chain never forks).")
        return prior


def describe(document: Document, *, versions: Sequence[Document] = (), content_admitted: bool | None = None
             ) -> dict[str, object]:
    """The metadata of one document; with its chain (oldest first) when given."""
    shown: dict[str, object] = {
        "id": str(document.id), "customer_id": str(document.customer_id), "kind": document.kind,
        "category": document.category, "contract_id": str(document.contract_id) if document.contract_id else None,
        "document_date": document.document_date.isoformat() if document.document_date else None,
        "location": document.location, "filename": document.filename, "content_type": document.content_type,
        "size": document.size, "sha256": document.sha256,
        "supersedes": str(document.supersedes_id) if document.supersedes_id else None,
        "uploaded_by": str(document.uploaded_by) if document.uploaded_by else None,
        "created_at": document.created_at.isoformat(),
    }
    if versions:
        chain = [v for v in versions if v.chain_id == document.chain_id]
        later = next((v for v in chain if v.supersedes_id == document.id), None)
        shown["current"] = later is None
        shown["superseded_by"] = str(later.id) if later else None
        shown["versions"] = [{"id": str(v.id), "created_at": v.created_at.isoformat(), "filename": v.filename,
                              "sha256": v.sha256} for v in chain]
    if content_admitted is not None:
        shown["content_admitted"] = content_admitted
    return shown


def audit_details(decision: PurposeDecision, document: Document | None,
                  customer_id: uuid.UUID | None) -> dict[str, object]:
    """The audit fields of a document decision: ids and the category, never content."""
    return {"resource_type": "document" if document is not None else "customer",
            "resource_id": str(document.id if document is not None else customer_id or ""),
            "customer_ids": (customer_id,) if customer_id else (),
            "purpose": decision.purpose.value if decision.purpose else "",
            "categories": (document.category,) if document is not None else decision.categories,
            "policy_rule": decision.rule_text, "policy_version": decision.policy_version}


@dataclass(frozen=True, slots=True)
class BlobCheck:
    orphans: list[str]  # blobs no document row names (a failed clean-up, or an upload in flight)
    missing: list[str]  # document rows whose blob is gone
    stored: int
    rows: int

    @property
    def clean(self) -> bool:
        return not self.orphans and not self.missing


def check_blobs(repo: DocumentRepository, store: BlobStore) -> BlobCheck:
    """Compare the blob store with the documents table (`archive blobs check`)."""
    expected, stored = set(repo.blob_keys()), set(store.keys())
    return BlobCheck(sorted(stored - expected), sorted(expected - stored), len(stored), len(expected))
