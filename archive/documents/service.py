"""Documents of the dossier: the rules of filing (what a new version may supersede, which
contract a document may be filed under), how a document is shown (metadata only), and
`DocumentService` — what the HTTP API calls. Each call has the gate decide first (purpose,
then the customer's scope, then for content the document's kind); content is decrypted only by
the gate's blob reader, against the grant it mints once the read's event is committed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, Self

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.blobs import BlobMissing, BlobStore, ChunkReader
from archive.customers.repository import CustomerRepository
from archive.db import UnitOfWork, new_id
from archive.documents.errors import ContentDestroyed, ContentUnavailable
from archive.documents.intake import (
    BlobIntake,
    NewDocument,
    StoredBlob,
    UploadForm,
    check_early,
    check_fields,
)
from archive.documents.models import Document
from archive.documents.repository import DocumentRepository
from archive.errors import ArchiveError, Conflict, FieldError, InvalidInput, NotFound
from archive.gate import Admission, BreakGlassLookup, Caller, Gate
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Action
from audit.events import Decision
from crypto.errors import CryptoError, KeyDestroyed
from crypto.grants import NotGranted
from crypto.streaming import BlobReader

log = structlog.get_logger("archive.documents")

CONTENT = "documents.content"  # what a content read's grant opens


class ContractLookup(Protocol):
    """What filing under a contract needs to know of it. The contracts area answers
    (`ContractRepository`); documents never import it, the service is handed one."""

    def customer_of(self, contract_id: uuid.UUID) -> uuid.UUID | None: ...


class DocumentRegistry:
    """Files documents; flushes, never commits (the caller's unit of work does)."""

    def __init__(self, uow: UnitOfWork, *, contracts: ContractLookup | None = None) -> None:
        self.uow = uow
        self.repo = DocumentRepository(uow.session)
        self.contracts = contracts

    def file(self, *, document_id: uuid.UUID, customer_id: uuid.UUID, new: NewDocument, stored: StoredBlob,
             uploaded_by: uuid.UUID | None) -> Document:
        chain_id = document_id
        if new.supersedes is not None:
            chain_id = self._supersedable(customer_id, new.supersedes).chain_id
        if new.contract_id is not None and (
                self.contracts is None or self.contracts.customer_of(new.contract_id) != customer_id):
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
            with self.uow.savepoint():
                self.repo.add(document)
        except IntegrityError:  # the unique `supersedes_id`: a chain never forks
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


# --- how a document is shown: metadata only ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionView:
    id: uuid.UUID
    created_at: datetime
    filename: str
    sha256: str


@dataclass(frozen=True, slots=True)
class DocumentView:
    id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    category: str
    contract_id: uuid.UUID | None
    document_date: date | None
    location: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    supersedes: uuid.UUID | None
    uploaded_by: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, d: Document, **more: object) -> Self:
        return cls(id=d.id, customer_id=d.customer_id, kind=d.kind, category=d.category, contract_id=d.contract_id,
                   document_date=d.document_date, location=d.location, filename=d.filename,
                   content_type=d.content_type, size=d.size, sha256=d.sha256, supersedes=d.supersedes_id,
                   uploaded_by=d.uploaded_by, created_at=d.created_at, **more)


@dataclass(frozen=True, slots=True)
class DocumentDetail(DocumentView):
    """A document with its version chain (oldest first), and whether the stated purpose
    admits its content."""

    current: bool
    superseded_by: uuid.UUID | None
    versions: list[VersionView]
    content_admitted: bool

    @classmethod
    def in_chain(cls, document: Document, versions: Sequence[Document], *, content_admitted: bool) -> Self:
        chain = [v for v in versions if v.chain_id == document.chain_id]
        later = next((v for v in chain if v.supersedes_id == document.id), None)
        return cls.of(document, current=later is None, superseded_by=later.id if later else None,
                      versions=[VersionView(v.id, v.created_at, v.filename, v.sha256) for v in chain],
                      content_admitted=content_admitted)


@dataclass(frozen=True, slots=True)
class DocumentPage:
    items: list[DocumentDetail]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class DocumentContent:
    """An admitted document's metadata and its plaintext, as segments that end cleanly only
    when the whole blob authenticated and matched its recorded SHA-256."""

    document: DocumentView
    filename: str
    content_type: str
    size: int
    chunks: Iterator[bytes]


# --- the service -----------------------------------------------------------------------------------

# Opens a body once its upload is allowed, refusing one announced larger than the limit (bytes).
OpenForm = Callable[[int], UploadForm]


class DocumentService:
    """Documents under the customers' order of checks (purpose, then the customer's scope),
    plus API.md step 5 for content: the purpose must admit the document's kind. The service
    loads what the gate decides on; the gate writes every decision's event and opens content
    only against the grant it mints once the read's event is committed."""

    def __init__(self, uow: UnitOfWork, gate: Gate, store: BlobStore, *,
                 units: Callable[[], AbstractContextManager[UnitOfWork]], max_bytes: int,
                 contracts: Callable[[Session], ContractLookup] | None = None,
                 break_glass: Callable[[Session], BreakGlassLookup] | None = None) -> None:
        self.uow, self.gate, self.store, self.units, self.max_bytes = uow, gate, store, units, max_bytes
        self.contracts, self.break_glass = contracts, break_glass

    def upload(self, caller: Caller, customer_id: uuid.UUID, open_form: OpenForm) -> DocumentView:
        """File a document: decided before the body is read, its bytes sealed into the blob
        store as they stream in, then its row and allowed event committed together; a failure
        at any step leaves neither blob nor row.

        Two units of work, not one: on SQLite a unit holds the database's write lock from its
        first statement to its commit, so a body streaming inside one (megabytes from a slow
        client) would stall every other writer, every audited read included. The first unit
        decides; a refusal writes its event and ends the request before a byte of the body is
        read. The body then streams into the blob store with no transaction open. The second
        unit files the row with the allowed event, so neither is ever found without the other
        (an upload that fails after the decision leaves no event claiming a document). The
        decision holds for the seconds in between, as for any request that is running when a
        policy or an owner changes."""
        with self.uow:
            decision = self._decide(caller, Action.DOCUMENT_UPLOAD, customer_id)
            self._customer(caller, decision, customer_id)
        form = open_form(self.max_bytes)
        document_id = new_id()
        intake = BlobIntake(self.gate.blob_cipher, self.store, max_bytes=self.max_bytes)
        stored = intake.take(customer_id, document_id, form, check_early)
        try:
            with self.uow:
                new = check_fields(form.fields)
                contracts = self.contracts(self.uow.session) if self.contracts is not None else None
                document = DocumentRegistry(self.uow, contracts=contracts).file(
                    document_id=document_id, customer_id=customer_id, new=new, stored=stored,
                    uploaded_by=None if caller.principal.is_customer else caller.principal.id)
                self._admit(caller, decision, document, customer_id, extra={"size": str(document.size)})
                return DocumentView.of(document)
        except BaseException:
            self.store.delete(stored.key)
            raise

    def list(self, caller: Caller, customer_id: uuid.UUID, *, limit: int, after: uuid.UUID | None) -> DocumentPage:
        """The customer's current documents (metadata), each with its version chain; `after` is
        the last id of the previous page."""
        with self.uow:
            decision = self._decide(caller, Action.DOCUMENT_LIST, customer_id)
            self._customer(caller, decision, customer_id)
            repo = DocumentRepository(self.uow.session)
            current = repo.current(customer_id, limit=limit + 1, after=after)
            page = current[:limit]
            versions = repo.versions(d.chain_id for d in page)
            self._admit(caller, decision, None, customer_id, extra={"documents": str(len(page))})
            return DocumentPage([self._detail(decision, d, versions) for d in page],
                                str(page[-1].id) if len(current) > limit else None)

    def read(self, caller: Caller, document_id: uuid.UUID) -> DocumentDetail:
        """One document's metadata and version chain."""
        with self.uow:
            decision, document = self._document(caller, Action.DOCUMENT_READ, document_id)
            versions = DocumentRepository(self.uow.session).versions([document.chain_id])
            self._admit(caller, decision, document, document.customer_id)
            return self._detail(decision, document, versions)

    def open_content(self, caller: Caller, document_id: uuid.UUID) -> DocumentContent:
        """The content, decrypted by the gate as it streams, once the read's event is committed."""
        source: ChunkReader | None = None
        try:
            with self.uow:
                decision, document = self._document(caller, Action.DOCUMENT_CONTENT_READ, document_id)
                self.gate.check_content(self.uow, caller, decision, kind=document.kind, category=document.category,
                                        document_id=document.id, customer_id=document.customer_id)
                try:
                    source = ChunkReader(self.store.open(document.blob_key))
                except BlobMissing:
                    raise self._damaged(document, caller.auditor, "BlobMissing", refusal=True) from None
                admission = self._admit(caller, decision, document, document.customer_id, opens=(CONTENT,))
                view = DocumentView.of(document)
        except BaseException:
            if source is not None:
                source.close()
            raise
        try:
            reader = self.gate.open_content(admission, document.id, document.customer_id, source,
                                            size=document.size, sha256=bytes.fromhex(document.sha256))
        except NotGranted:
            source.close()
            raise
        except CryptoError as error:  # the key is gone or the header damaged: nothing was sent yet
            source.close()
            raise self._damaged(document, caller.auditor, type(error).__name__,
                                destroyed=isinstance(error, KeyDestroyed)) from None
        return DocumentContent(view, document.filename, document.content_type, document.size,
                               self._plaintext(document, reader, source, caller.auditor))

    def _plaintext(self, document: Document, reader: BlobReader, source: ChunkReader,
                   auditor: Auditor) -> Iterator[bytes]:
        """Each segment leaves one step behind the next: the last only once the SHA-256 is
        proven, so a damaged blob aborts the transfer instead of ending it cleanly."""
        held = None
        try:
            for segment in reader:
                if held is not None:
                    yield held
                held = segment
        except CryptoError as error:
            raise self._damaged(document, auditor, type(error).__name__) from None
        finally:
            source.close()
        if held is not None:
            yield held

    def _damaged(self, document: Document, auditor: Auditor, what: str, *, refusal: bool = False,
                 destroyed: bool = False) -> ArchiveError:
        """Log and audit a blob that is missing, damaged or no longer readable; the caller raises
        what it returns. Before the read's event (`refusal`) the event takes the unit of work's
        refusal path; once the read is committed, a unit of its own."""
        log.error("document.content_damaged", document_id=str(document.id), error=what)
        error: ArchiveError
        if destroyed:
            error = ContentDestroyed("The customer's data key was destroyed (crypto-shredding); this content is "
                                     "permanently unreadable.")
        else:
            error = ContentUnavailable("This document's stored content is missing or damaged; it was not sent. The "
                                       "incident is logged — an operator can run `archive blobs check`.")

        def record(session: Session) -> None:
            auditor.record(session, Action.DOCUMENT_CONTENT_READ.value, Decision.DENIED, resource_type="document",
                           resource_id=str(document.id), customer_ids=(document.customer_id,),
                           reason=f"the stored content failed its check ({what}); nothing more was sent",
                           extra={"integrity": "destroyed" if destroyed else "failed", "error": what})

        if refusal:
            error.outlives_rollback = record
        else:
            with self.units() as uow:
                record(uow.session)
        return error

    # -- the gate's steps, on what this service loads -------------------------------------------------

    def _decide(self, caller: Caller, action: Action, customer_id: uuid.UUID | None, *,
                document_id: uuid.UUID | None = None) -> PurposeDecision:
        """Steps 2 and 3; for one customer, the caller's open break-glass on it counts."""
        lookup = self.break_glass(self.uow.session) if self.break_glass is not None else None
        if document_id is None:
            return self.gate.decide(self.uow, caller, action, customer_id=customer_id, break_glass=lookup)
        return self.gate.decide(self.uow, caller, action, customer_id=customer_id, break_glass=lookup,
                                resource_type="document", resource_id=str(document_id))

    def _customer(self, caller: Caller, decision: PurposeDecision, customer_id: uuid.UUID, *,
                  document: uuid.UUID | None = None) -> None:
        """Step 4 on the customer (403 with the loan pointer, or 404 — for a document as for an
        id that does not exist: nothing tells the two apart)."""
        customer = CustomerRepository(self.uow.session).get(customer_id)
        if document is None:
            self.gate.check_scope(self.uow, caller, decision, customer)
        else:
            self.gate.check_scope(self.uow, caller, decision, customer, missing="No such document.",
                                  resource_type="document", resource_id=str(document))

    def _document(self, caller: Caller, action: Action, document_id: uuid.UUID) -> tuple[PurposeDecision, Document]:
        document = DocumentRepository(self.uow.session).get(document_id)
        customer_id = document.customer_id if document is not None else None
        decision = self._decide(caller, action, customer_id, document_id=document_id)
        if document is None:
            raise self.gate.refuse(caller, decision, NotFound("No such document."), resource_type="document",
                                   resource_id=str(document_id))
        self._customer(caller, decision, document.customer_id, document=document.id)
        return decision, document

    def _admit(self, caller: Caller, decision: PurposeDecision, document: Document | None, customer_id: uuid.UUID,
               *, opens: tuple[str, ...] = (), extra: dict[str, str] | None = None) -> Admission:
        """The allowed event: ids and the document's category, never content; a grant to open
        `opens` (the content) once committed."""
        if document is None:
            return self.gate.admit(self.uow, caller, decision, [customer_id], resource_id=str(customer_id),
                                   opens=opens, fields=(), extra=extra or {})
        return self.gate.admit(self.uow, caller, decision, [customer_id], resource_type="document",
                               resource_id=str(document.id), opens=opens, fields=(), categories=(document.category,),
                               extra=extra or {})

    def _detail(self, decision: PurposeDecision, document: Document, versions: Sequence[Document]) -> DocumentDetail:
        return DocumentDetail.in_chain(document, versions,
                                       content_admitted=self.gate.content_admitted(decision, document.kind))


# --- the blob store against the table --------------------------------------------------------------


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
