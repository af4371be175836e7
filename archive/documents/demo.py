"""Demo documents: one of every kind for a few customers — generated letters and reports as
UTF-8 text, and small PDFs (fpdf2) for the contract originals, credit approvals and financial
statements — sealed and stored exactly as an upload would be. A customer that already has
documents is skipped, so seeding twice adds nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import select

from archive.auditing import Auditor, system_actor
from archive.blobs import BlobStore
from archive.db import Database, new_id
from archive.documents.formats import sniff
from archive.documents.intake import NewDocument, StoredBlob, content_context
from archive.documents.models import Document
from archive.documents.service import DocumentRegistry
from archive.vocabulary import DOCUMENT_KINDS, DocumentKind
from audit.events import AuditAction
from crypto.keyring import KeyRing
from crypto.streaming import BlobCipher

PDF_KINDS = frozenset({DocumentKind.CONTRACT_ORIGINAL, DocumentKind.CREDIT_APPROVAL,
                       DocumentKind.FINANCIAL_STATEMENT})
TITLES = {
    DocumentKind.VISIT_REPORT: "客户访问日报", DocumentKind.COMPLAINT: "客户投诉及处理记录",
    DocumentKind.CONTRACT_ORIGINAL: "合同正本", DocumentKind.CREDIT_APPLICATION: "信用申请表",
    DocumentKind.COLLECTION_RECORD: "商账追讨记录", DocumentKind.CONSENT_EVIDENCE: "联合营销拒绝声明",
}


def seed_documents(db: Database, ring: KeyRing, blob_store: BlobStore, customer_ids: Sequence[uuid.UUID], *,
                   uploaded_by: uuid.UUID | None = None, today: date | None = None) -> int:
    """File every document kind for each customer given (without documents yet), plus a second
    version of the first customer's visit report; returns how many documents were filed."""
    today = today or date.today()
    cipher = BlobCipher(ring)
    filed = 0
    for customer_id in customer_ids:
        ring.dek_for_encrypt(customer_id)  # the data key is committed before anything is sealed with it
        with db.unit_of_work() as uow:
            if uow.session.scalar(select(Document.id).where(Document.customer_id == customer_id).limit(1)):
                continue
            registry = DocumentRegistry(uow)
            keys: list[str] = []
            try:
                for n, kind in enumerate(DOCUMENT_KINDS):
                    content, name = _content(kind, customer_id, n)
                    new = NewDocument(kind, today - timedelta(days=30 * n), f"档案室 {n // 10 + 1} 号柜")
                    keys.append(_file(registry, cipher, blob_store, customer_id, new, content, name, uploaded_by).key)
                if filed == 0:
                    first = registry.repo.current(customer_id, limit=500)
                    report = next(d for d in first if d.kind == DocumentKind.VISIT_REPORT)
                    content, name = _content(DocumentKind.VISIT_REPORT, customer_id, 99, version=2)
                    new = NewDocument(DocumentKind.VISIT_REPORT, today, supersedes=report.id)
                    keys.append(_file(registry, cipher, blob_store, customer_id, new, content, name, uploaded_by).key)
                Auditor(system_actor("cli:demo")).record(uow.session, AuditAction.SYSTEM_SEEDED,
                                                         resource_type="document", customer_ids=(customer_id,),
                                                         extra={"documents": str(len(keys))})
            except BaseException:
                for key in keys:
                    blob_store.delete(key)
                raise
            filed += len(keys)
    return filed


def _file(registry: DocumentRegistry, cipher: BlobCipher, store: BlobStore, customer_id: uuid.UUID,
          new: NewDocument, content: bytes, filename: str, uploaded_by: uuid.UUID | None) -> StoredBlob:
    document_id = new_id()
    key = str(document_id)
    with store.writer(key) as sink:
        sealed = cipher.encrypt(content_context(document_id, customer_id), [content], sink)
    stored = StoredBlob(key, sealed, sniff(content[:8192], filename), filename)
    registry.file(document_id=document_id, customer_id=customer_id, new=new, stored=stored, uploaded_by=uploaded_by)
    return stored


def _content(kind: DocumentKind, customer_id: uuid.UUID, n: int, *, version: int = 1) -> tuple[bytes, str]:
    file, category, _group = DOCUMENT_KINDS[kind]
    title = TITLES.get(kind, kind.value.replace("_", " ").title())
    if kind in PDF_KINDS:
        return _pdf(kind, customer_id, n), f"{kind.value}-{n:02d}.pdf"
    lines = [f"{title} ({kind.value}), 第 {version} 版", f"客户 {customer_id}",
             f"档案: {file.value} / {category.value}", "",
             *(f"{i + 1}. 演示内容 demo line {i + 1} for document {n}." for i in range(12))]
    return ("\n".join(lines) + "\n").encode(), f"{kind.value}-{n:02d}-v{version}.txt"


def _pdf(kind: DocumentKind, customer_id: uuid.UUID, n: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(True)
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=f"{kind.value.replace('_', ' ').title()} - demo document {n}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=10)
    for i in range(8):
        pdf.cell(text=f"Customer {customer_id}, clause {i + 1}: generated text for the demo.",
                 new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
