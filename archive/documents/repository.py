"""Queries on documents; the scope of the customer was decided by the gate before any runs.
Documents know nothing of the areas that file them (contracts): they are asked, they do not ask."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from archive.documents.models import Document


class DocumentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, document_id: uuid.UUID) -> Document | None:
        return self.session.get(Document, document_id)

    def add(self, document: Document) -> None:
        self.session.add(document)
        self.session.flush()

    def current(self, customer_id: uuid.UUID, *, limit: int, after: uuid.UUID | None = None) -> Sequence[Document]:
        """The customer's documents that no later version supersedes, by id."""
        later = aliased(Document)
        query = (select(Document).where(Document.customer_id == customer_id,
                                        ~exists().where(later.supersedes_id == Document.id))
                 .order_by(Document.id).limit(limit))
        if after is not None:
            query = query.where(Document.id > after)
        return self.session.scalars(query).all()

    def versions(self, chain_ids: Iterable[uuid.UUID]) -> Sequence[Document]:
        """Every version of these chains, oldest first."""
        ids = list(set(chain_ids))
        if not ids:
            return []
        return self.session.scalars(select(Document).where(Document.chain_id.in_(ids))
                                    .order_by(Document.created_at, Document.id)).all()

    def successor(self, document_id: uuid.UUID) -> Document | None:
        return self.session.scalars(select(Document).where(Document.supersedes_id == document_id)).first()

    def kinds_filed_under(self, contract_id: uuid.UUID) -> Sequence[str]:
        """The kinds of the documents filed under a contract (its dossier checklist asks)."""
        return self.session.scalars(select(Document.kind).where(Document.contract_id == contract_id)
                                    .distinct()).all()

    def blob_keys(self) -> Iterator[str]:
        yield from self.session.scalars(select(Document.blob_key).execution_options(yield_per=1000))
