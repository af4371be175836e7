"""No customer plaintext in logs, problems, the access log or its export: a real `archive serve`
(debug logging) goes through intake, search, reads, corrections, refusals, an import, a document
upload and download, and nothing planted shows up anywhere but in the answers to allowed reads."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from archive.customers.importing import HEADER
from tests.processes import env_with, run, serving

pytestmark = pytest.mark.slow
PASSWORD = "demo-password-for-tests"
PLANTED = {
    "id_number": "320302197712304416",
    "phone": "13967001234",
    "email": "planted.person@leak-check.cn",
    "address": "江苏省徐州市泉山区泄露测试路77号",
    "annual_volume": "7777777",
}
IMPORTED_PHONE = "13967009876"
IMPORTED_ID = "91320300MA1LEAK77K"
DOCUMENT_PHRASE = "机密: 这份文件的正文绝不能出现在日志里 PLANTED-DOC-7731"


def login(base: str, who: str) -> dict[str, str]:
    token = httpx.post(base + "/api/v1/auth/token", data={"username": who, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_nothing_planted_reaches_logs_problems_or_the_access_log(tmp_path):
    env = env_with(ARCHIVE_DATA_DIR=str(tmp_path / "data"), ARCHIVE_DEMO_PASSWORD=PASSWORD,
                   ARCHIVE_ENV="development", ARCHIVE_LOG_LEVEL="DEBUG")
    env.pop("ARCHIVE_DATABASE_URL", None)
    assert run("demo", "--no-serve", env=env).returncode == 0
    problems: list[str] = []
    with serving(env, log=tmp_path / "serve.log") as base:
        rep, head, outsider = login(base, "sales_rep"), login(base, "department_head"), login(base, "sales_rep_2")
        sf = {"X-Purpose": "sales_followup"}
        created = httpx.post(base + "/api/v1/customers", headers={**rep, **sf},
                             json={"kind": "individual", "name": "钱泄露", **PLANTED})
        assert created.status_code == 201, created.text
        customer = created.json()["id"]
        # refusals of every kind, each answered with a problem
        problems += [
            httpx.post(base + "/api/v1/customers", headers={**rep, **sf},
                       json={"kind": "individual", "name": "钱泄露", **PLANTED}).text,  # duplicate
            httpx.post(base + "/api/v1/customers", headers={**outsider, **sf},
                       json={"kind": "individual", "name": "钱泄露", "id_number": PLANTED["id_number"]}).text,
            httpx.post(base + "/api/v1/customers", headers={**rep, **sf},
                       json={"kind": "individual", "name": "x", "phone": "not a phone " + PLANTED["phone"]}).text,
            httpx.post(base + "/api/v1/customers/search", headers=rep, json={"phone": PLANTED["phone"]}).text,
            httpx.get(f"{base}/api/v1/customers/{customer}", headers={**outsider, **sf}).text,
        ]
        found = httpx.post(base + "/api/v1/customers/search", headers={**rep, **sf}, json={"phone": PLANTED["phone"]})
        assert [c["id"] for c in found.json()["items"]] == [customer]
        read = httpx.get(f"{base}/api/v1/customers/{customer}", headers={**rep, **sf})
        assert read.json()["phone"] == PLANTED["phone"]
        fixed = httpx.patch(f"{base}/api/v1/customers/{customer}",
                            headers={**rep, **sf, "If-Match": read.headers["etag"]},
                            json={"email": "corrected." + PLANTED["email"], "reason": "customer asked"})
        assert fixed.status_code == 200, fixed.text
        rows = io.StringIO()
        writer = csv.DictWriter(rows, fieldnames=HEADER)
        writer.writeheader()
        writer.writerow({"code": "C-LEAK1", "name": "孙泄露", "kind": "enterprise", "department": "SALES",
                         "owner": "sales_rep", "status": "active", "id_number": IMPORTED_ID,
                         "phone": IMPORTED_PHONE})
        bad = rows.getvalue().replace(IMPORTED_PHONE, "phone " + IMPORTED_PHONE)
        as_csv = {**head, **sf, "Content-Type": "text/csv"}
        problems.append(httpx.post(base + "/api/v1/customers/import", headers=as_csv, content=bad.encode()).text)
        imported = httpx.post(base + "/api/v1/customers/import", headers=as_csv, content=rows.getvalue().encode())
        assert imported.status_code == 200 and imported.json()["created"] == 1, imported.text
        uploaded = httpx.post(f"{base}/api/v1/customers/{customer}/documents", headers={**rep, **sf},
                              data={"kind": "visit_report"},
                              files={"file": ("visit.txt", DOCUMENT_PHRASE.encode() * 50, "text/plain")})
        assert uploaded.status_code == 201, uploaded.text
        content = httpx.get(f"{base}/api/v1/documents/{uploaded.json()['id']}/content", headers={**rep, **sf})
        assert DOCUMENT_PHRASE.encode() in content.content
        officer = {**login(base, "compliance_officer"), "X-Purpose": "audit"}
        export = httpx.get(base + "/api/v1/audit/events", headers=officer, params={"format": "csv", "limit": 500})
        events = httpx.get(base + "/api/v1/audit/events", headers=officer, params={"limit": 500})
        assert export.status_code == 200 and events.status_code == 200
    log = (tmp_path / "serve.log").read_text()
    assert "customer.create" in export.text and len(log) > 1000  # the places searched are real
    secrets = [*PLANTED.values(), "corrected." + PLANTED["email"], IMPORTED_PHONE, IMPORTED_ID, DOCUMENT_PHRASE,
               PLANTED["phone"][-8:]]
    assert all(s in read.text for s in PLANTED.values() if s != PLANTED["id_number"])  # the check can see them
    for place, text in (("server log", log), ("problems", "\n".join(problems)), ("audit CSV", export.text),
                        ("audit JSON", events.text)):
        leaked = [s for s in secrets if s in text]
        assert leaked == [], f"{place} holds {leaked}"
