"""Documents through the HTTP API, in-process, on a committed archive (tests/security/world.py):
real tokens, real policy, real crypto and blob store. Who may file, list, read and open what —
expected outcomes written by hand from DOMAIN.md — malformed uploads that must leave nothing
behind, version chains, a damaged blob that must break the transfer off, and no plaintext at
rest. A sample runs on PostgreSQL too."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import structlog
from sqlalchemy import Engine, func, select, text, update

from archive.blobs import FsBlobStore
from archive.db import Database
from archive.documents.models import Document
from service.app import create_app
from tests.security.world import World, build_world, sqlite_world
from tests.support import ApiClient, assert_problem, make_context

LETTER = "尊敬的客户：感谢您的来信。This is the letter of the dossier.\n".encode() * 40
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256)) * 8
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 400
BOUNDARY = "ArchiveTestBoundary7MA4YWxk"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sqlite_world(tmp_path_factory.mktemp("documents")) as built:
        yield built


def upload(world: World, who: str, customer: uuid.UUID, *, purpose: str | None, kind: str = "visit_report",
           content: bytes = LETTER, filename: str = "letter.txt", **fields: str):
    return world.api.post(f"/api/v1/customers/{customer}/documents", token=world.tokens[who], purpose=purpose,
                          data={"kind": kind, **fields}, files={"file": (filename, content, "text/plain")})


def raw_upload(world: World, who: str, customer: uuid.UUID, body: bytes, *, purpose: str = "customer_service",
               content_type: str = f"multipart/form-data; boundary={BOUNDARY}", **kw):
    return world.api.post(f"/api/v1/customers/{customer}/documents", token=world.tokens[who], purpose=purpose,
                          content=body, headers={"Content-Type": content_type}, **kw)


def multipart(*parts: tuple[str, bytes, str | None], end: bool = True) -> bytes:
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return body + (f"--{BOUNDARY}--\r\n".encode() if end else b"")


def content(world: World, who: str, document_id: str, purpose: str | None):
    return world.api.get(f"/api/v1/documents/{document_id}/content", token=world.tokens[who], purpose=purpose)


def footprint(world: World) -> tuple[int, list[str]]:
    """Document rows and stored blobs: what a failed upload must not change."""
    with world.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(Document)).scalar_one()
    return rows, sorted(world.api.app.state.ctx.blob_store.keys())


def _ids(cells: list[tuple[object, ...]]) -> list[str]:
    return ["-".join(map(str, cell)) for cell in cells]


def event_decisions(world: World, response) -> set[str]:  # type: ignore[no-untyped-def]
    return world.decisions(response.headers["x-request-id"])


# --- the round trip ------------------------------------------------------------------------------
def test_a_rep_files_lists_reads_and_opens_a_letter_of_an_own_customer(world: World) -> None:
    customer = world.targets[("sales_rep", "own")]
    filed = upload(world, "sales_rep", customer, purpose="sales_followup", document_date="2026-03-01",
                   location="档案室 2 号柜")
    assert filed.status_code == 201, filed.text
    doc = filed.json()
    assert doc["sha256"] == hashlib.sha256(LETTER).hexdigest() and doc["size"] == len(LETTER)
    assert doc["kind"] == "visit_report" and doc["category"] == "basic" and doc["content_type"] == "text/plain"
    assert filed.headers["location"] == f"/api/v1/documents/{doc['id']}"
    assert event_decisions(world, filed) == {"allowed"}

    listed = world.api.get(f"/api/v1/customers/{customer}/documents", token=world.tokens["sales_rep"],
                           purpose="sales_followup").json()
    mine = next(d for d in listed["items"] if d["id"] == doc["id"])
    assert mine["content_admitted"] is True and mine["location"] == "档案室 2 号柜" and mine["current"] is True
    meta = world.api.get(f"/api/v1/documents/{doc['id']}", token=world.tokens["sales_rep"], purpose="sales_followup")
    assert meta.status_code == 200 and meta.json()["document_date"] == "2026-03-01"

    opened = content(world, "sales_rep", doc["id"], "sales_followup")
    assert opened.status_code == 200 and opened.content == LETTER
    assert opened.headers["content-type"] == "text/plain; charset=utf-8"
    assert opened.headers["content-length"] == str(len(LETTER))
    assert opened.headers["content-disposition"].startswith("attachment;")
    assert opened.headers["x-content-type-options"] == "nosniff"
    assert event_decisions(world, opened) == {"allowed"}


def test_the_type_is_sniffed_and_the_file_name_sanitised(world: World) -> None:
    customer = world.targets[("sales_rep", "own")]
    filed = upload(world, "sales_rep", customer, purpose="sales_followup", kind="contract_original", content=PDF,
                   filename="../../etc/合同|正本.txt")
    assert filed.status_code == 201, filed.text
    doc = filed.json()
    assert doc["content_type"] == "application/pdf" and doc["filename"] == "合同_正本.txt"
    assert doc["category"] == "account"
    opened = content(world, "sales_rep", doc["id"], "sales_followup")
    assert opened.content == PDF and opened.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%E5%90%88" in opened.headers["content-disposition"]


# --- who may open what (DOMAIN.md: a document is admitted by a purpose that admits its category;
#     basic documents by a purpose that admits contact data, basic/identity ones identity in clear) ---
KINDS = ("visit_report", "complaint", "contract_original", "counterparty_licence", "guarantor_documents",
         "credit_application", "investment_statement", "insurance_policy")
CONTENT = [
    # role, purpose, whose customer, kind, status
    ("sales_rep", "sales_followup", "own", "visit_report", 200),
    ("sales_rep", "sales_followup", "own", "contract_original", 200),  # account in clear
    ("sales_rep", "sales_followup", "own", "counterparty_licence", 403),  # identity only masked
    ("sales_rep", "sales_followup", "own", "credit_application", 403),
    ("sales_rep", "customer_service", "own", "visit_report", 200),
    ("sales_rep", "customer_service", "own", "contract_original", 403),
    ("sales_rep", "advisory", "own", "investment_statement", 200),
    ("sales_rep", "advisory", "own", "insurance_policy", 200),
    ("sales_rep", "advisory", "own", "credit_application", 403),
    ("sales_rep", "sales_followup", "other", "visit_report", 403),  # outside: loan pointer
    ("department_head", "sales_followup", "department", "contract_original", 200),
    ("department_head", "customer_service", "department", "complaint", 200),
    ("credit_manager", "contract_management", "other", "contract_original", 200),
    ("credit_manager", "contract_management", "other", "counterparty_licence", 200),
    ("credit_manager", "contract_management", "other", "guarantor_documents", 200),
    ("credit_manager", "contract_management", "other", "credit_application", 403),  # credit file
    ("credit_manager", "contract_management", "other", "visit_report", 403),  # service file
    ("credit_manager", "credit_review", "other", "credit_application", 403),  # only through a loan
    ("finance", "credit_review", "other", "credit_application", 200),
    ("finance", "credit_review", "other", "counterparty_licence", 200),
    ("finance", "credit_review", "other", "investment_statement", 403),
    ("finance", "register_review", "other", "contract_original", 200),
    ("archivist", "archive_maintenance", "other", "visit_report", 403),  # metadata, never content
    ("customer_service", "customer_service", "other", "visit_report", 200),
    ("customer_service", "customer_service", "other", "counterparty_licence", 403),
    ("crm_manager", "customer_service", "other", "complaint", 200),
    ("crm_manager", "grading", "other", "visit_report", 403),
    ("marketing", "joint_marketing", "other", "visit_report", 403),
    ("compliance_officer", "audit", "other", "visit_report", 403),  # break-glass pointer
    ("general_manager", "reporting", "other", "visit_report", 403),
    ("admin", "customer_service", "other", "visit_report", 403),
    ("customer", "data_subject_request", "own", "credit_application", 200),
    ("customer", "data_subject_request", "other", "visit_report", 404),  # could never read it
]


@pytest.fixture(scope="module")
def filed(world: World) -> dict[tuple[str, str], str]:
    """One document of each kind on every customer the expectations name, filed by customer
    service (which may file on any customer)."""
    ids = {}
    for role, _purpose, whose, _kind, _status in CONTENT:
        customer = world.targets[(role, whose)]
        for kind in KINDS:
            if (str(customer), kind) not in ids:
                response = upload(world, "customer_service", customer, purpose="customer_service", kind=kind,
                                  content=f"{kind} of {customer}\n".encode() * 20)
                assert response.status_code == 201, response.text
                ids[(str(customer), kind)] = response.json()["id"]
    return ids


@pytest.mark.parametrize(("role", "purpose", "whose", "kind", "status"), CONTENT, ids=_ids(CONTENT))
def test_content_is_opened_only_for_kinds_the_purpose_admits(world: World, filed, role, purpose, whose, kind,
                                                             status) -> None:
    document_id = filed[(str(world.targets[(role, whose)]), kind)]
    response = content(world, role, document_id, purpose)
    if status == 200:
        assert response.status_code == 200, response.text
        assert response.content == f"{kind} of {world.targets[(role, whose)]}\n".encode() * 20
        assert event_decisions(world, response) == {"allowed"}
        return
    body = assert_problem(response, status)
    assert event_decisions(world, response) == {"denied"}
    if status == 404:
        assert body["detail"] == "No such document."


def test_refusals_say_what_to_do(world: World, filed) -> None:
    other = str(world.targets[("sales_rep", "other")])
    loan = assert_problem(content(world, "sales_rep", filed[(other, "visit_report")], "sales_followup"), 403)
    assert "POST /api/v1/loans" in loan["detail"]
    by_kind = assert_problem(content(world, "credit_manager", filed[(other, "credit_application")],
                                     "contract_management"), 403)
    assert "credit_application" in by_kind["detail"] and "GET /api/v1/documents/" in by_kind["detail"]
    officer = assert_problem(content(world, "compliance_officer", filed[(other, "visit_report")], "audit"), 403)
    assert "break-glass" in officer["detail"]
    missing = assert_problem(content(world, "finance", str(uuid.uuid4()), "credit_review"), 404)
    assert missing["detail"] == "No such document."
    assert_problem(content(world, "finance", filed[(other, "visit_report")], None), 400)


METADATA = [
    # role, purpose, whose customer, status of list and read
    ("archivist", "archive_maintenance", "other", 200),
    ("credit_manager", "contract_management", "other", 200),
    ("credit_manager", "credit_review", "other", 403),
    ("sales_rep", "sales_followup", "own", 200),
    ("sales_rep", "sales_followup", "other", 403),
    ("marketing", "joint_marketing", "other", 403),
    ("admin", "customer_service", "other", 403),
    ("customer", "data_subject_request", "own", 200),
    ("customer", "data_subject_request", "other", 404),
]


@pytest.mark.parametrize(("role", "purpose", "whose", "status"), METADATA, ids=_ids(METADATA))
def test_metadata_lists_and_reads(world: World, filed, role, purpose, whose, status) -> None:
    customer = world.targets[(role, whose)]
    listed = world.api.get(f"/api/v1/customers/{customer}/documents", token=world.tokens[role], purpose=purpose)
    read = world.api.get(f"/api/v1/documents/{filed[(str(customer), 'credit_application')]}",
                         token=world.tokens[role], purpose=purpose)
    for response in (listed, read):
        assert response.status_code == status, response.text
        assert event_decisions(world, response) == {"allowed" if status == 200 else "denied"}
    if status == 200:
        kinds = {d["kind"] for d in listed.json()["items"]}
        assert set(KINDS) <= kinds
        assert read.json()["sha256"] and "content" not in read.json()


def test_the_archivist_sees_every_kind_but_no_content_is_admitted(world: World, filed) -> None:
    other = world.targets[("archivist", "other")]
    items = world.api.get(f"/api/v1/customers/{other}/documents", token=world.tokens["archivist"],
                          purpose="archive_maintenance").json()["items"]
    assert items and not any(d["content_admitted"] for d in items)
    manager = world.api.get(f"/api/v1/customers/{other}/documents", token=world.tokens["credit_manager"],
                            purpose="contract_management").json()["items"]
    admitted = {d["kind"] for d in manager if d["content_admitted"]}
    assert admitted == {"contract_original", "counterparty_licence", "guarantor_documents"}


# --- who may file ----------------------------------------------------------------------------------
UPLOADS = [
    ("archivist", "archive_maintenance", "other", 201),  # registers documents of every customer
    ("customer_service", "customer_service", "other", 201),
    ("credit_manager", "contract_management", "other", 201),
    ("sales_rep", "customer_service", "own", 201),
    ("sales_rep", "sales_followup", "other", 403),
    ("sales_rep", "advisory", "own", 403),  # advisory files nothing
    ("credit_manager", "credit_review", "other", 403),
    ("marketing", "joint_marketing", "other", 403),
    ("admin", "customer_service", "other", 403),
    ("compliance_officer", "audit", "other", 403),
]


@pytest.mark.parametrize(("role", "purpose", "whose", "status"), UPLOADS, ids=_ids(UPLOADS))
def test_who_may_file(world: World, role, purpose, whose, status) -> None:
    customer = world.targets[(role, whose)]
    before = footprint(world)
    # A refused caller's body is never read: an executable still gets the 403, not a 415.
    response = upload(world, role, customer, purpose=purpose, content=LETTER if status == 201 else ELF)
    assert response.status_code == status, response.text
    assert event_decisions(world, response) == {"allowed" if status == 201 else "denied"}
    if status != 201:
        assert footprint(world) == before


def test_an_unknown_customer_or_purpose_is_refused_before_the_body(world: World) -> None:
    before = footprint(world)
    assert_problem(upload(world, "finance", uuid.uuid4(), purpose="credit_review", content=ELF), 404)
    assert_problem(upload(world, "finance", world.targets[("finance", "other")], purpose=None, content=ELF), 400)
    assert footprint(world) == before


# --- malformed uploads leave no row and no blob ------------------------------------------------------
def _refused(world: World, response, status: int, field: str | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    body = assert_problem(response, status)
    if field is not None:
        assert field in {e["field"] for e in body.get("errors", [])}, body
    return body


@pytest.mark.parametrize(("case", "status", "field"), [
    ("no file part", 422, "file"),
    ("unknown kind before the file", 422, "kind"),
    ("unknown kind after the file", 422, "kind"),
    ("no kind", 422, "kind"),
    ("category not the kind's", 422, "category"),
    ("bad date", 422, "document_date"),
    ("an executable", 415, None),
    ("a zip archive", 415, None),
    ("an empty file", 422, "file"),
    ("two files", 422, "file"),
    ("cut off inside the file", 422, "file"),
    ("cut off after the file", 422, "file"),
    ("not multipart", 415, None),
    ("garbage", 422, None),
])
def test_malformed_uploads_leave_nothing_behind(world: World, case: str, status: int, field: str | None) -> None:
    customer = world.targets[("customer_service", "other")]
    letter = ("file", LETTER, "letter.txt")
    bodies = {
        "no file part": multipart(("kind", b"visit_report", None)),
        "unknown kind before the file": multipart(("kind", b"horoscope", None), letter),
        "unknown kind after the file": multipart(letter, ("kind", b"horoscope", None)),
        "no kind": multipart(letter),
        "category not the kind's": multipart(("kind", b"visit_report", None), ("category", b"credit", None), letter),
        "bad date": multipart(("kind", b"visit_report", None), ("document_date", b"31/02/2026", None), letter),
        "an executable": multipart(("kind", b"visit_report", None), ("file", ELF, "report.txt")),
        "a zip archive": multipart(("kind", b"visit_report", None), ("file", b"PK\x03\x04" + b"\x00" * 200, "a.docx")),
        "an empty file": multipart(("kind", b"visit_report", None), ("file", b"", "empty.txt")),
        "two files": multipart(("kind", b"visit_report", None), letter, letter),
        "cut off inside the file": multipart(("kind", b"visit_report", None), letter)[:-300],
        "cut off after the file": multipart(("kind", b"visit_report", None), letter, end=False),
        "garbage": b"this is not a multipart body at all" * 10,
    }
    before = footprint(world)
    if case == "not multipart":
        response = raw_upload(world, "customer_service", customer, b'{"kind": "visit_report"}',
                              content_type="application/json")
    else:
        response = raw_upload(world, "customer_service", customer, bodies[case])
    _refused(world, response, status, field)
    assert footprint(world) == before


def test_oversize_uploads_get_413_and_leave_nothing(world: World) -> None:
    """ARCHIVE_DOCUMENT_MAX_BYTES: a body announced larger is refused before it is read, one
    that streams past it is cut off there."""
    ctx = make_context(world.db, Path(world.api.app.state.ctx.settings.data_dir),
                       ARCHIVE_DOCUMENT_MAX_BYTES=str(64 * 1024))
    small = ApiClient(create_app(ctx))
    customer = world.targets[("customer_service", "other")]
    before = footprint(world)
    streamed = small.post(f"/api/v1/customers/{customer}/documents", token=world.tokens["customer_service"],
                          purpose="customer_service", data={"kind": "visit_report"},
                          files={"file": ("big.txt", LETTER * 50, "text/plain")})
    announced = small.post(f"/api/v1/customers/{customer}/documents", token=world.tokens["customer_service"],
                           purpose="customer_service", data={"kind": "visit_report"},
                           files={"file": ("big.txt", LETTER * 200, "text/plain")})
    assert "65536 bytes" in _refused(world, streamed, 413)["detail"]
    _refused(world, announced, 413)
    assert footprint(world) == before


def test_the_servers_body_limit_also_ends_a_chunked_upload_cleanly(world: World, tmp_path: Path) -> None:
    """ARCHIVE_MAX_UPLOAD_BYTES (the middleware) cuts a body without Content-Length mid-stream."""
    ctx = make_context(world.db, Path(world.api.app.state.ctx.settings.data_dir), ARCHIVE_MAX_UPLOAD_BYTES="100000")
    small = ApiClient(create_app(ctx))
    body = multipart(("kind", b"visit_report", None), ("file", LETTER * 100, "big.txt"))
    before = footprint(world)

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(body), 16 * 1024):
            yield body[i:i + 16 * 1024]

    response = small.post(f"/api/v1/customers/{world.targets[('customer_service', 'other')]}/documents",
                          token=world.tokens["customer_service"], purpose="customer_service", content=chunks(),
                          headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    _refused(world, response, 413)
    assert footprint(world) == before


# --- versions ------------------------------------------------------------------------------------------
def test_an_amendment_supersedes_and_nothing_is_overwritten(world: World) -> None:
    rep, purpose = "sales_rep", "sales_followup"
    customer = world.targets[(rep, "own")]
    v1 = upload(world, rep, customer, purpose=purpose, kind="contract_original", content=b"version one\n").json()
    v2 = upload(world, rep, customer, purpose=purpose, kind="contract_amendment", content=b"version two\n",
                supersedes=v1["id"]).json()
    assert v2["supersedes"] == v1["id"]
    items = world.api.get(f"/api/v1/customers/{customer}/documents", token=world.tokens[rep], purpose=purpose,
                          params={"limit": 500}).json()["items"]
    ids = {d["id"] for d in items}
    assert v2["id"] in ids and v1["id"] not in ids
    current = next(d for d in items if d["id"] == v2["id"])
    assert [v["id"] for v in current["versions"]] == [v1["id"], v2["id"]]
    old = world.api.get(f"/api/v1/documents/{v1['id']}", token=world.tokens[rep], purpose=purpose).json()
    assert old["current"] is False and old["superseded_by"] == v2["id"]
    assert content(world, rep, v1["id"], purpose).content == b"version one\n"

    before = footprint(world)
    fork = upload(world, rep, customer, purpose=purpose, kind="contract_amendment", content=b"fork\n",
                  supersedes=v1["id"])
    assert v2["id"] in _refused(world, fork, 409)["detail"]
    elsewhere = world.targets[("customer_service", "other")]
    foreign = upload(world, "customer_service", elsewhere, purpose="customer_service", supersedes=v2["id"])
    _refused(world, foreign, 422, "supersedes")
    assert footprint(world) == before


# --- damage and secrecy ---------------------------------------------------------------------------------
def asgi_get(world: World, path: str, who: str, purpose: str) -> list[dict]:  # type: ignore[type-arg]
    """Drive the ASGI app directly and keep every message it sends (httpx's in-process transport
    refuses a response that never ends, which is exactly what this must observe)."""
    messages: list[dict] = []  # type: ignore[type-arg]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
             "headers": [(b"authorization", f"Bearer {world.tokens[who]}".encode()), (b"x-purpose", purpose.encode())]}
    asked = False

    async def receive() -> dict:  # type: ignore[type-arg]
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        messages.append(message)

    anyio.run(world.api.app, scope, receive, send)
    return messages


def _blob_path(world: World, document_id: str) -> Path:
    store = world.api.app.state.ctx.blob_store
    assert isinstance(store, FsBlobStore)
    return store.path(document_id)


@pytest.mark.parametrize("damage", ["flipped byte in the blob", "recorded sha256 changed"])
def test_damaged_content_breaks_the_transfer_off_and_is_logged_and_audited(world: World, damage: str) -> None:
    customer = world.targets[("sales_rep", "own")]
    big = LETTER * 300  # ~1.1 MB: several 256 KiB segments
    doc = upload(world, "sales_rep", customer, purpose="sales_followup", content=big).json()
    if damage.startswith("flipped"):
        path = _blob_path(world, doc["id"])
        sealed = bytearray(path.read_bytes())
        sealed[-40] ^= 0x01  # inside the last segment
        path.write_bytes(bytes(sealed))
    else:
        with world.engine.begin() as conn:
            conn.execute(update(Document).where(Document.id == uuid.UUID(doc["id"])).values(sha256="0" * 64))
    with structlog.testing.capture_logs() as logs:
        messages = asgi_get(world, f"/api/v1/documents/{doc['id']}/content", "sales_rep", "sales_followup")
    start, chunks = messages[0], [m for m in messages[1:] if m["type"] == "http.response.body"]
    assert start["status"] == 200  # the headers had gone out ...
    sent = b"".join(m.get("body", b"") for m in chunks)
    segment = 256 * 1024
    assert big.startswith(sent) and 0 < len(sent) < len(big) and len(sent) % segment == 0  # ... the end never did,
    assert all(m.get("more_body") for m in chunks)  # and the response never ended: a broken transfer
    assert any(e["event"] == "document.content_damaged" and e["document_id"] == doc["id"] and
               e["log_level"] == "error" for e in logs)
    with world.engine.connect() as conn:
        events = conn.execute(text("SELECT decision, reason FROM audit_events WHERE resource_id = :d AND "
                                   "action = 'document.content.read' ORDER BY occurred_us"), {"d": doc["id"]}).all()
    assert [e[0] for e in events] == ["allowed", "denied"] and "failed its check" in events[1][1]


def test_a_missing_blob_is_a_problem_not_an_empty_file(world: World) -> None:
    customer = world.targets[("sales_rep", "own")]
    doc = upload(world, "sales_rep", customer, purpose="sales_followup").json()
    _blob_path(world, doc["id"]).unlink()
    response = content(world, "sales_rep", doc["id"], "sales_followup")
    assert "archive blobs check" in assert_problem(response, 500)["detail"]
    assert event_decisions(world, response) == {"denied"}


def test_content_of_a_crypto_shredded_customer_is_gone_for_good(world: World) -> None:
    customer = world.targets[("general_manager", "own")]
    doc = upload(world, "customer_service", customer, purpose="customer_service").json()
    world.api.app.state.ctx.key_ring.destroy_deks(customer)
    response = content(world, "customer_service", doc["id"], "customer_service")
    assert "crypto-shredding" in assert_problem(response, 410)["detail"]
    assert event_decisions(world, response) == {"allowed", "denied"}  # admitted, then found unreadable


def test_no_plaintext_of_a_document_rests_in_the_data_directory(world: World) -> None:
    marker = f"UNIQUE-PLAINTEXT-{uuid.uuid4()}".encode()
    doc = upload(world, "sales_rep", world.targets[("sales_rep", "own")], purpose="sales_followup",
                 content=marker * 100, filename="note.txt")
    assert doc.status_code == 201
    data_dir = Path(world.api.app.state.ctx.settings.data_dir)
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.parent.parent.name == "blobs" for p in files)
    assert not [p for p in files if marker in p.read_bytes()]


# --- PostgreSQL ---------------------------------------------------------------------------------------
def test_a_sample_on_postgresql(committed_pg_engine: Engine, tmp_path: Path) -> None:
    world = build_world(Database(committed_pg_engine), tmp_path)
    test_a_rep_files_lists_reads_and_opens_a_letter_of_an_own_customer(world)
    test_an_amendment_supersedes_and_nothing_is_overwritten(world)
    ids = {}
    for kind in ("credit_application", "contract_original"):
        response = upload(world, "customer_service", world.targets[("credit_manager", "other")],
                          purpose="customer_service", kind=kind, content=f"{kind}\n".encode())
        ids[kind] = response.json()["id"]
    assert content(world, "credit_manager", ids["contract_original"], "contract_management").status_code == 200
    assert_problem(content(world, "credit_manager", ids["credit_application"], "contract_management"), 403)
    assert_problem(content(world, "archivist", ids["contract_original"], "archive_maintenance"), 403)
    test_malformed_uploads_leave_nothing_behind(world, "an executable", 415, None)
    test_malformed_uploads_leave_nothing_behind(world, "unknown kind after the file", 422, "kind")
