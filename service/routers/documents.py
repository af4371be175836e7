"""Documents: upload (multipart, streamed and encrypted on the fly), metadata, and content.
Each route is one `DocumentService` call (archive/documents/service.py), which has the gate
decide before the body is read or anything is shown.

The upload route is synchronous on purpose: it runs in a worker thread, where the multipart
parser and the cipher work, and pulls the request body from the event loop chunk by chunk
(`anyio.from_thread`). No `UploadFile`/`Form` parameters, so nothing is spooled to disk."""

from __future__ import annotations

import base64
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Annotated
from urllib.parse import quote

import anyio.from_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect
from streaming_form_data import StreamingFormDataParser
from streaming_form_data.parser import ParseFailedException, parse_content_boundary
from streaming_form_data.targets import BaseTarget

from archive.documents.errors import UnsupportedMediaType
from archive.documents.intake import UPLOAD_FIELDS
from archive.errors import FieldError, InvalidInput, PayloadTooLarge
from service.deps import Context, CurrentCaller, Documents
from service.middleware import BodyTooLarge
from service.schemas.common import problem_responses
from service.schemas.documents import CONTENT_TYPES, UPLOAD_BODY, DocumentDetailOut, DocumentOut, DocumentPage

router = APIRouter(tags=["documents"])
MAX_FIELD_BYTES = 1024
MULTIPART_SLACK = 64 * 1024  # room for the other fields and part headers around the file


@router.post("/api/v1/customers/{customer_id}/documents", status_code=201, openapi_extra=UPLOAD_BODY,
             response_model=DocumentOut, responses=problem_responses(400, 403, 404, 409, 413, 415),
             summary="File a document (multipart; encrypted as it streams in)",
             description="Decided before the body is read: purpose `document.upload` and the customer's scope. "
                         "The type is sniffed from the first bytes (text, PDF, images, office files; 415 "
                         "otherwise), the size limited (413); `kind` decides the category. With `supersedes` "
                         "it is a new version of that document — nothing is overwritten. A failed upload leaves "
                         "nothing behind.")
def upload_document(customer_id: uuid.UUID, request: Request, response: Response, caller: CurrentCaller,
                    ctx: Context, documents: Documents) -> DocumentOut:
    server_limit = ctx.settings.server.max_upload_bytes

    def open_form(limit: int) -> StreamedForm:
        _check_headers(request.headers, limit)
        return StreamedForm(request.headers, _body(request, server_limit))

    filed = documents.upload(caller, customer_id, open_form)
    response.headers["Location"] = f"/api/v1/documents/{filed.id}"
    return DocumentOut.model_validate(filed)


@router.get("/api/v1/customers/{customer_id}/documents", response_model=DocumentPage,
            responses=problem_responses(400, 403, 404), summary="A customer's documents (metadata)",
            description="The current version of each document, with its version chain; `content_admitted` says "
                        "whether the stated purpose admits its content. Cursor: the last id of the previous page.")
def list_documents(customer_id: uuid.UUID, caller: CurrentCaller, documents: Documents,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: uuid.UUID | None = None) -> DocumentPage:
    page = documents.list(caller, customer_id, limit=limit, after=cursor)
    return DocumentPage.model_validate(page)


@router.get("/api/v1/documents/{document_id}", response_model=DocumentDetailOut,
            responses=problem_responses(400, 403, 404), summary="One document's metadata and version chain")
def read_document(document_id: uuid.UUID, caller: CurrentCaller, documents: Documents) -> DocumentDetailOut:
    return DocumentDetailOut.model_validate(documents.read(caller, document_id))


@router.get("/api/v1/documents/{document_id}/content", response_class=StreamingResponse,
            summary="A document's content, decrypted as it streams",
            description="403 when the purpose does not admit the document's kind. The SHA-256 recorded at upload "
                        "is checked as the content streams (also sent as `Repr-Digest`): damaged content breaks "
                        "the transfer off instead of ending it cleanly; content found missing or damaged before "
                        "the first byte is a 500 problem, content of a crypto-shredded customer 410.",
            responses={200: {"description": "The content, as its sniffed media type.", "content": CONTENT_TYPES},
                       **problem_responses(400, 403, 404, 410, 500)})
def read_content(document_id: uuid.UUID, caller: CurrentCaller, documents: Documents) -> StreamingResponse:
    content = documents.open_content(caller, document_id)
    sha256 = bytes.fromhex(content.document.sha256)
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


def _body(request: Request, server_limit: int) -> Iterator[bytes]:
    """The request body, pulled from the event loop into this worker thread chunk by chunk; a
    body cut at the server's limit (the middleware's `BodyTooLarge`) is a 413."""
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
    except BodyTooLarge:
        raise PayloadTooLarge(f"The request body is over the server's limit of {server_limit} bytes; "
                              "nothing was filed.") from None


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
