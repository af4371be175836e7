"""Shapes of the document routes (API.md "documents"): metadata only — content is streamed as
the document's own media type."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from archive.documents.formats import ALLOWED


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DocumentOut(_View):
    id: uuid.UUID
    customer_id: uuid.UUID
    kind: str = Field(description="A document kind (DOMAIN.md), e.g. `visit_report`.")
    category: str = Field(description="Fixed by the kind (policies/document_kinds.yaml).")
    contract_id: uuid.UUID | None
    document_date: date | None
    location: str | None = Field(description="Where the paper original is kept.")
    filename: str = Field(description="Sanitised.")
    content_type: str = Field(description="Sniffed from the content, not the client's claim.")
    size: int = Field(description="Plaintext bytes.")
    sha256: str = Field(description="Of the plaintext, hex; checked whenever the content is read.")
    supersedes: uuid.UUID | None = Field(description="The version this one amends.")
    uploaded_by: uuid.UUID | None
    created_at: datetime


class VersionOut(_View):
    id: uuid.UUID
    created_at: datetime
    filename: str
    sha256: str


class DocumentDetailOut(DocumentOut):
    current: bool = Field(description="No later version supersedes it.")
    superseded_by: uuid.UUID | None
    versions: list[VersionOut] = Field(description="The whole chain, oldest first.")
    content_admitted: bool = Field(description="Whether the stated purpose admits this document's content.")


class DocumentPage(_View):
    items: list[DocumentDetailOut]
    next_cursor: str | None = Field(description="Pass as `?cursor=` for the next page; null at the end.")


UPLOAD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "kind"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "The document (type sniffed, not trusted)."},
        "kind": {"type": "string", "description": "A document kind (DOMAIN.md), e.g. `visit_report`."},
        "category": {"type": "string", "description": "Optional; must match the kind's category."},
        "document_date": {"type": "string", "format": "date"},
        "location": {"type": "string", "description": "Where the paper original is kept."},
        "supersedes": {"type": "string", "format": "uuid", "description": "The version this one amends."},
        "contract_id": {"type": "string", "format": "uuid"},
    }}}}}}

# A document's content is sent as its sniffed type, one of the accepted ones.
CONTENT_TYPES: dict[str, Any] = {media: {"schema": {"type": "string", "format": "binary"}}
                                 for media in sorted(ALLOWED)}
