"""Documents through the gate: upload decided before the body is read, metadata, and content
streamed out only after its event is committed, checked against its SHA-256 to the last byte."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

import structlog
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.blobs import BlobMissing, BlobStore, ChunkReader
from archive.db import new_id
from archive.documents.errors import ContentDestroyed, ContentUnavailable
from archive.documents.intake import BlobIntake, UploadForm, content_context
from archive.documents.models import Document
from archive.documents.repository import DocumentRepository
from archive.documents.service import (
    DocumentContent,
    DocumentRegistry,
    audit_details,
    check_early,
    check_fields,
    describe,
)
from archive.errors import (
    ArchiveError,
    Forbidden,
    NotFound,
)
from archive.gate.core import _MINT, Grant, refuse
from archive.gate.customers import CustomerGate
from archive.identity.principal import Principal
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Action, DocumentKind, Via
from audit.events import Decision
from crypto.errors import CryptoError, KeyDestroyed
from crypto.grants import GrantKind
from crypto.streaming import BlobCipher, BlobReader

# --- documents ----------------------------------------------------------------------------------
log = structlog.get_logger("archive.documents")


@dataclass(frozen=True, slots=True)
class UploadPermit:
    """The gate's yes to filing a document on one customer, given before the body is read."""

    decision: PurposeDecision
    customer_id: uuid.UUID
    uploaded_by: uuid.UUID | None
    _token: object = field(repr=False, compare=False)


class DocumentGate:
    """Documents under the customers' order of checks (purpose, then the customer's scope), plus
    API.md step 5 for content: the purpose must admit the document's kind. Blobs are decrypted
    only here, against a grant, after the allowed event is committed."""

    def __init__(self, customers: CustomerGate, cipher: BlobCipher, store: BlobStore,
                 sessions: Callable[[], Session], *, max_bytes: int) -> None:
        self.customers, self.cipher, self.store = customers, cipher, store
        self.sessions, self.max_bytes = sessions, max_bytes

    def authorize_upload(self, session: Session, principal: Principal, stated: str | None, customer_id: uuid.UUID,
                         auditor: Auditor) -> UploadPermit:
        decision = self.customers._decide(session, principal, stated, Action.DOCUMENT_UPLOAD, auditor, customer_id)
        customer = self.customers._in_scope(session, auditor, principal, decision, customer_id)
        session.rollback()  # nothing written: hold no (SQLite) write lock while the body streams in
        return UploadPermit(decision, customer.id, None if principal.is_customer else principal.id, _MINT)

    def upload(self, session: Session, permit: UploadPermit, form: UploadForm, auditor: Auditor) -> dict[str, object]:
        """Stream the file into the blob store, then file its row and event in one commit; a
        failure at any step leaves neither blob nor row."""
        if permit._token is not _MINT:
            raise Forbidden("No permit for this upload.")
        document_id = new_id()
        intake = BlobIntake(self.cipher, self.store, max_bytes=self.max_bytes)
        stored = intake.take(permit.customer_id, document_id, form, check_early)
        try:
            new = check_fields(form.fields)
            document = DocumentRegistry(DocumentRepository(session)).file(
                document_id=document_id, customer_id=permit.customer_id, new=new, stored=stored,
                uploaded_by=permit.uploaded_by)
            self._allow(session, auditor, permit.decision, Action.DOCUMENT_UPLOAD, permit.customer_id, document,
                        size=str(document.size))
        except BaseException:
            session.rollback()
            self.store.delete(stored.key)
            raise
        return describe(document)

    def list(self, session: Session, principal: Principal, stated: str | None, customer_id: uuid.UUID,
             auditor: Auditor, *, limit: int, after: uuid.UUID | None) -> list[dict[str, object]]:
        """The customer's current documents (metadata), each with its version chain."""
        decision = self.customers._decide(session, principal, stated, Action.DOCUMENT_LIST, auditor, customer_id)
        customer = self.customers._in_scope(session, auditor, principal, decision, customer_id)
        repo = DocumentRepository(session)
        current = repo.current(customer.id, limit=limit, after=after)
        versions = repo.versions(d.chain_id for d in current)
        self._allow(session, auditor, decision, Action.DOCUMENT_LIST, customer.id, None, documents=str(len(current)))
        return [describe(d, versions=versions, content_admitted=d.kind in decision.document_kinds) for d in current]

    def read(self, session: Session, principal: Principal, stated: str | None, document_id: uuid.UUID,
             auditor: Auditor) -> dict[str, object]:
        decision, document = self._document(session, principal, stated, Action.DOCUMENT_READ, auditor, document_id)
        versions = DocumentRepository(session).versions([document.chain_id])
        self._allow(session, auditor, decision, Action.DOCUMENT_READ, document.customer_id, document)
        return describe(document, versions=versions, content_admitted=document.kind in decision.document_kinds)

    def open_content(self, session: Session, principal: Principal, stated: str | None, document_id: uuid.UUID,
                     auditor: Auditor) -> DocumentContent:
        action = Action.DOCUMENT_CONTENT_READ
        decision, document = self._document(session, principal, stated, action, auditor, document_id)
        if DocumentKind(document.kind) not in decision.document_kinds:
            purpose = decision.purpose.value if decision.purpose else ""
            raise self._deny(session, auditor, action, Forbidden(
                f"The purpose {purpose} does not admit the content of a {document.kind} ({document.category} "
                f"document); its metadata is at GET /api/v1/documents/{document.id}."), decision, document)
        try:
            chunks = self.store.open(document.blob_key)
        except BlobMissing:
            raise self._damaged(document, auditor, "BlobMissing", session=session) from None
        grant = self._allow(session, auditor, decision, action, document.customer_id, document)
        source = ChunkReader(chunks)
        try:
            reader = self._decrypt(grant, document, source)
        except CryptoError as error:
            source.close()
            raise self._damaged(document, auditor, type(error).__name__, destroyed=isinstance(error, KeyDestroyed)
                                ) from None
        return DocumentContent(describe(document), document.filename, document.content_type, document.size,
                               self._plaintext(document, reader, source, auditor))

    def _decrypt(self, grant: Grant, document: Document, source: ChunkReader) -> BlobReader:
        if grant._token is not _MINT or document.customer_id not in grant.customer_ids:
            raise Forbidden("No grant for this document.")
        return self.cipher.decrypt(grant.key, content_context(document.id, document.customer_id), source,
                                   plaintext_size=document.size, sha256=bytes.fromhex(document.sha256))

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

    def _document(self, session: Session, principal: Principal, stated: str | None, action: Action,
                  auditor: Auditor, document_id: uuid.UUID) -> tuple[PurposeDecision, Document]:
        document = session.get(Document, document_id)
        customer_id = document.customer_id if document is not None else None
        decision = self.customers._decide(session, principal, stated, action, auditor, customer_id)
        if document is None:
            raise self._deny(session, auditor, action, NotFound("No such document."), decision, None, document_id)
        try:
            self.customers._in_scope(session, auditor, principal, decision, document.customer_id)
        except NotFound:  # as for an id that does not exist: nothing tells the two apart
            raise NotFound("No such document.") from None
        return decision, document

    def _allow(self, session: Session, auditor: Auditor, decision: PurposeDecision, action: Action,
               customer_id: uuid.UUID, document: Document | None, **extra: str) -> Grant:
        auditor.record(session, action.value, Decision.ALLOWED, **audit_details(decision, document, customer_id),
                       reason=decision.reason, break_glass=decision.via is Via.BREAK_GLASS, extra=extra)
        session.commit()  # the event is durable before any content leaves
        fields = ("documents.content",) if action is Action.DOCUMENT_CONTENT_READ else ()
        key = self.customers._authority.mint(GrantKind.READ, customer_ids=(customer_id,), fields=fields,
                                             reason=action.value)
        return Grant(decision, (customer_id,), _MINT, key)

    def _deny(self, session: Session, auditor: Auditor, action: Action, error: ArchiveError,
              decision: PurposeDecision, document: Document | None, document_id: uuid.UUID | None = None
              ) -> ArchiveError:
        details = audit_details(decision, document, document.customer_id if document else None)
        if document is None:
            details.update(resource_type="document", resource_id=str(document_id or ""))
        return refuse(session, auditor, action, error, **details)

    def _damaged(self, document: Document, auditor: Auditor, what: str, *, session: Session | None = None,
                 destroyed: bool = False) -> ArchiveError:
        """Log and audit a blob that is missing, damaged or no longer readable — in the request's
        session before the grant, in one of its own once the grant is committed; the caller
        raises what it returns."""
        log.error("document.content_damaged", document_id=str(document.id), error=what)
        with nullcontext(session) if session is not None else self.sessions() as events:
            auditor.record(events, Action.DOCUMENT_CONTENT_READ.value, Decision.DENIED, resource_type="document",
                           resource_id=str(document.id), customer_ids=(document.customer_id,),
                           reason=f"the stored content failed its check ({what}); nothing more was sent",
                           extra={"integrity": "destroyed" if destroyed else "failed", "error": what})
            events.commit()
        if destroyed:
            return ContentDestroyed("The customer's data key was destroyed (crypto-shredding); this content is "
                                    "permanently unreadable.")
        return ContentUnavailable("This document's stored content is missing or damaged; it was not sent. The "
                                  "incident is logged — an operator can run `archive blobs check`.")
