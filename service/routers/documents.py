"""Documents: upload (multipart, streamed and encrypted on the fly), metadata, and content —
every call through the gate, which decides before the body is read or anything is shown.

The upload route is synchronous on purpose: it runs in a worker thread, where the multipart
parser and the cipher work, and pulls the request body from the event loop chunk by chunk
(`anyio.from_thread`). No `UploadFile`/`Form` parameters, so nothing is spooled to disk."""

from __future__ import annotations

import base64
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Annotated, Any
from urllib.parse import quote

import anyio.from_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect
from streaming_form_data import StreamingFormDataParser
from streaming_form_data.parser import ParseFailedException, parse_content_boundary
from streaming_form_data.targets import BaseTarget

from archive.documents.errors import UnsupportedMediaType
from archive.documents.service import UPLOAD_FIELDS
from archive.errors import FieldError, InvalidInput, PayloadTooLarge
from service.deps import Audit, Context, CurrentPrincipal, Uow
from service.middleware import BodyTooLarge

router = APIRouter(tags=["documents"])
XPurpose = Annotated[str | None, Header(alias="X-Purpose", description="Why you read this (purposes.yaml).")]
MAX_FIELD_BYTES = 1024
MULTIPART_SLACK = 64 * 1024  # room for the other fields and part headers around the file

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


@router.post("/api/v1/customers/{customer_id}/documents", status_code=201, openapi_extra=UPLOAD_BODY,
             summary="File a document (multipart; encrypted as it streams in)",
             description="Decided before the body is read: purpose `document.upload` and the customer's scope. "
                         "The type is sniffed from the first bytes (text, PDF, images, office files; 415 "
                         "otherwise), the size limited (413); `kind` decides the category. With `supersedes` "
                         "it is a new version of that document — nothing is overwritten. A failed upload leaves "
                         "nothing behind.",
             responses={413: {"description": "Too large"}, 415: {"description": "Type not accepted"}})
def upload_document(customer_id: uuid.UUID, request: Request, response: Response, principal: CurrentPrincipal,
                    ctx: Context, uow: Uow, audit: Audit, x_purpose: XPurpose = None) -> dict[str, object]:
    permit = ctx.documents.authorize_upload(uow.session, principal, x_purpose, customer_id, audit)
    _check_headers(request.headers, ctx.documents.max_bytes)
    form = StreamedForm(request.headers, _body(request))
    try:
        shown = ctx.documents.upload(uow.session, permit, form, audit)
    except BodyTooLarge:
        raise PayloadTooLarge(f"The request body is over the server's limit of "
                              f"{ctx.settings.server.max_upload_bytes} bytes; nothing was filed.") from None
    response.headers["Location"] = f"/api/v1/documents/{shown['id']}"
    return shown


@router.get("/api/v1/customers/{customer_id}/documents", summary="A customer's documents (metadata)",
            description="The current version of each document, with its version chain; `content_admitted` says "
                        "whether the stated purpose admits its content. Cursor: the last id of the previous page.")
def list_documents(customer_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                   x_purpose: XPurpose = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: uuid.UUID | None = None) -> dict[str, Any]:
    items = ctx.documents.list(uow.session, principal, x_purpose, customer_id, audit, limit=limit + 1, after=cursor)
    page = items[:limit]
    return {"items": page, "next_cursor": page[-1]["id"] if len(items) > limit else None}


@router.get("/api/v1/documents/{document_id}", summary="One document's metadata and version chain")
def read_document(document_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                  x_purpose: XPurpose = None) -> dict[str, object]:
    return ctx.documents.read(uow.session, principal, x_purpose, document_id, audit)


@router.get("/api/v1/documents/{document_id}/content", response_class=StreamingResponse,
            summary="A document's content, decrypted as it streams",
            description="403 when the purpose does not admit the document's kind. The SHA-256 recorded at upload "
                        "is checked as the content streams (also sent as `Repr-Digest`): damaged content breaks "
                        "the transfer off instead of ending it cleanly.",
            responses={200: {"content": {"application/octet-stream": {}}}})
def read_content(document_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                 x_purpose: XPurpose = None) -> StreamingResponse:
    content = ctx.documents.open_content(uow.session, principal, x_purpose, document_id, audit)
    sha256 = bytes.fromhex(str(content.document["sha256"]))
    headers = {"Content-Length": str(content.size), "Content-Disposition": _disposition(content.filename),
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
               "Repr-Digest": f"sha-256=:{base64.b64encode(sha256).decode()}:"}
    return StreamingResponse(content.chunks, media_type=content.content_type, headers=headers)


def _disposition(filename: str) -> str:
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _check_headers(headers: Mapping[str, str], limit: int) -> None:
    if not headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("Send the document as multipart/form-data with the fields `file` and `kind`.")
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        length = 0
    if length > limit + MULTIPART_SLACK:
        raise PayloadTooLarge(f"A document may be at most {limit} bytes; nothing was filed.")


def _body(request: Request) -> Iterator[bytes]:
    """The request body, pulled from the event loop into this worker thread chunk by chunk."""
    stream = request.stream()

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    try:
        while (chunk := anyio.from_thread.run(next_chunk)) is not None:
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise InvalidInput("The upload was cut off; nothing was filed.",
                           errors=[FieldError("file", "incomplete")]) from None


class _File(BaseTarget):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.parts = 0
        self.pending: deque[bytes] = deque()

    def on_start(self) -> None:
        self.parts += 1

    def on_data_received(self, chunk: bytes) -> None:
        if self.parts == 1:
            self.pending.append(chunk)


class _Field(BaseTarget):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.value = bytearray()

    def on_data_received(self, chunk: bytes) -> None:
        if len(self.value) <= MAX_FIELD_BYTES:
            self.value += chunk[:MAX_FIELD_BYTES + 1]


class StreamedForm:
    """A multipart/form-data body parsed as it arrives (streaming-form-data): the file part's
    bytes are handed on as they come, the small fields are kept. Implements the archive's
    `UploadForm`."""

    def __init__(self, headers: Mapping[str, str], body: Iterator[bytes]) -> None:
        content_type = {"Content-Type": headers.get("content-type", "")}
        try:
            self._parser = StreamingFormDataParser(headers=content_type)
            self._ender = b"\r\n--" + parse_content_boundary(content_type) + b"--"
        except ParseFailedException:
            raise UnsupportedMediaType("Send the document as multipart/form-data with a boundary.") from None
        self._body = body
        self._file = _File()
        self._fields = {name: _Field() for name in UPLOAD_FIELDS - {"file"}}
        self._parser.register("file", self._file)
        for name, target in self._fields.items():
            self._parser.register(name, target)

    @property
    def filename(self) -> str | None:
        return self._file.multipart_filename  # type: ignore[no-any-return]

    @property
    def fields(self) -> dict[str, str]:
        shown = {}
        for name, target in self._fields.items():
            if target._finished:
                if len(target.value) > MAX_FIELD_BYTES:
                    raise InvalidInput("A form field is too long.", errors=[FieldError(name, "too long")])
                shown[name] = target.value.decode("utf-8", "replace")
        return shown

    def file_chunks(self) -> Iterator[bytes]:
        ended, tail = False, b""
        for raw in self._body:
            window = tail + raw
            ended = ended or self._ender in window
            tail = window[-len(self._ender):]
            try:
                self._parser.data_received(raw)
            except ParseFailedException:
                raise InvalidInput("The multipart body is malformed; nothing was filed.") from None
            if self._file.parts > 1:
                raise InvalidInput("One file per upload.", errors=[FieldError("file", "sent more than once")])
            while self._file.pending:
                yield self._file.pending.popleft()
        if not self._file.parts:
            raise InvalidInput("The upload has no file part.", errors=[FieldError("file", "required")])
        if not ended or not self._file._finished:
            raise InvalidInput("The upload was cut off before its end; nothing was filed.",
                               errors=[FieldError("file", "incomplete")])
