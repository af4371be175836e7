"""A document: metadata in clear (kind, category, dates, physical location, file name, sniffed
type, size, SHA-256 of the plaintext) and the key of its encrypted blob. Nothing is ever
overwritten: an amendment is a new document that `supersedes` the one before, and every
version keeps the id of its chain's first document (`chain_id`)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, IdMixin, TimestampMixin


class Document(IdMixin, TimestampMixin, Base):
    __tablename__ = "documents"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # archive.vocabulary.DocumentKind
    category: Mapped[str] = mapped_column(String(16))  # fixed by the kind (policies/document_kinds.yaml)
    contract_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    document_date: Mapped[date | None] = mapped_column(Date)
    location: Mapped[str | None] = mapped_column(String(200))  # where the paper original is kept
    filename: Mapped[str] = mapped_column(String(160))  # sanitised
    content_type: Mapped[str] = mapped_column(String(100))  # sniffed, not the client's claim
    size: Mapped[int] = mapped_column(BigInteger)  # plaintext bytes
    sha256: Mapped[str] = mapped_column(String(64))  # of the plaintext, hex
    blob_key: Mapped[str] = mapped_column(String(128), unique=True)
    ciphertext_size: Mapped[int] = mapped_column(BigInteger)
    dek_version: Mapped[int] = mapped_column(Integer)  # the customer's data key that sealed the blob
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    chain_id: Mapped[uuid.UUID] = mapped_column(index=True)  # the first version's id
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
