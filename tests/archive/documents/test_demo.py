"""Demo documents (every kind for a few customers, fast, idempotent) and `archive blobs check`
on the directory they leave: clean, then one orphan and one missing blob → exit 1."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import func, select

from archive.blobs import ChunkReader, FsBlobStore
from archive.customers.repository import CustomerRepository
from archive.customers.service import CustomerRegistry
from archive.db import Database, make_engine, new_id
from archive.documents.intake import content_context
from archive.documents.models import Document
from archive.migrate import upgrade
from archive.vocabulary import DocumentKind, document_category
from audit.tables import events
from crypto.envelope import FieldCipher
from crypto.grants import GrantKind
from crypto.streaming import BlobCipher
from tests.processes import env_with, run
from tests.support import add_user, make_context


def test_demo_documents_of_every_kind_then_blobs_check(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'archive.db'}")
    upgrade(engine)
    db = Database(engine)
    ctx = make_context(db, tmp_path)
    owner = add_user(ctx, username="sales_rep", roles=["sales_rep"], department="SALES")
    customers = [new_id() for _ in range(3)]
    for customer_id in customers:
        ctx.key_ring.dek_for_encrypt(customer_id)
    with db.unit_of_work() as uow:
        registry = CustomerRegistry(CustomerRepository(uow.session), FieldCipher(ctx.key_ring), ctx.blind_index)
        for n, customer_id in enumerate(customers):
            registry.register(customer_id=customer_id, code=f"C-D{n}", kind="individual",
                              department_id=owner.department_id, owner_id=owner.id, status="active",
                              profile={}, sensitive={"name": f"客户{n}"})

    from archive.documents.demo import seed_documents

    started = time.perf_counter()
    filed = seed_documents(db, ctx.key_ring, ctx.blob_store, customers, uploaded_by=owner.id)
    elapsed = time.perf_counter() - started
    assert filed == 3 * len(DocumentKind) + 1 and elapsed < 10
    assert seed_documents(db, ctx.key_ring, ctx.blob_store, customers) == 0  # idempotent

    with db.session_factory() as session:
        rows = session.scalars(select(Document)).all()
        every = {(c, k) for c in customers for k in DocumentKind}
        assert {(r.customer_id, DocumentKind(r.kind)) for r in rows} == every
        assert all(r.category == document_category(DocumentKind(r.kind)).value for r in rows)
        assert session.scalar(select(func.count()).where(Document.supersedes_id.is_not(None))) == 1
        assert {r.content_type for r in rows} == {"text/plain", "application/pdf"}
        pdf = next(r for r in rows if r.content_type == "application/pdf")
    grant = ctx.gate._authority.mint(GrantKind.READ, customer_ids=[pdf.customer_id],
                                     fields=["documents.content"])  # the gate's authority: the ring trusts it
    opened = BlobCipher(ctx.key_ring).decrypt(grant, content_context(pdf.id, pdf.customer_id),
                                              ChunkReader(ctx.blob_store.open(pdf.blob_key)),
                                              plaintext_size=pdf.size, sha256=bytes.fromhex(pdf.sha256))
    assert b"".join(opened).startswith(b"%PDF-")
    engine.dispose()

    env = env_with(ARCHIVE_DATA_DIR=str(tmp_path))
    env.pop("ARCHIVE_DATABASE_URL", None)
    clean = run("blobs", "check", env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"{filed} blobs, {filed} documents, 0 orphan, 0 missing" in clean.stdout
    store = ctx.blob_store
    assert isinstance(store, FsBlobStore)
    with store.writer("orphan-blob") as sink:
        sink.write(b"sealed bytes nobody names")
    store.delete(pdf.blob_key)
    damaged = run("blobs", "check", env=env)
    assert damaged.returncode == 1
    assert "orphan blob (no document row): orphan-blob" in damaged.stdout
    assert f"missing blob (document row without it): {pdf.blob_key}" in damaged.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'archive.db'}")
    with engine.connect() as conn:
        checks = conn.execute(select(events.c.actor_kind, events.c.actor_id, events.c.extra)
                              .where(events.c.action == "blobs.checked").order_by(events.c.occurred_us)).all()
    engine.dispose()
    assert [(kind, json.loads(extra)) for kind, _, extra in checks] == [
        ("system", {"blobs": str(filed), "documents": str(filed), "orphans": "0", "missing": "0"}),
        ("system", {"blobs": str(filed), "documents": str(filed), "orphans": "1", "missing": "1"})]
    assert {actor for _, actor, _ in checks} == {"cli:blobs check"}

