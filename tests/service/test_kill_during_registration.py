"""kill -9 while customers are being registered on PostgreSQL: a data key commits with its
customer or not at all, so the crash leaves no key without its customer (issue 26; the review
found 13 orphaned keys when the key store committed on its own connection first)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.processes import ARCHIVE, env_with, free_port, run, stop
from tests.support import TEST_ENV

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

PASSWORD = "kill-test-password-0"
REGISTRATIONS = 100
CLIENTS = 4


def _register_until_stopped(base: str, token: str, start: int, done: list[int], stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "sales_followup"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for n in range(start, REGISTRATIONS, CLIENTS):
            if stop.is_set():
                return
            try:
                answer = client.post("/api/v1/customers", json={
                    "kind": "individual", "name": f"客户{n:03d}", "phone": f"1390000{n:04d}",
                    "address": "江苏省徐州市云龙区和平路8号"})
            except httpx.HTTPError:
                return  # the server is gone
            if answer.status_code == 201:
                done.append(n)


def test_kill_9_during_100_registrations_leaves_no_data_key_without_its_customer(
        committed_pg_engine: Engine, tmp_path: Path) -> None:
    url = committed_pg_engine.url.render_as_string(hide_password=False)
    env = env_with(**TEST_ENV, ARCHIVE_DATA_DIR=str(tmp_path / "data"), ARCHIVE_DATABASE_URL=url,
                   ARCHIVE_NEW_USER_PASSWORD=PASSWORD, ARCHIVE_LOG_LEVEL="WARNING")
    for args in (("departments", "add", "SALES", "Sales"),
                 ("users", "add", "rep", "--role", "sales_rep", "--department", "SALES")):
        made = run(*args, env=env)
        assert made.returncode == 0, made.stderr[-2000:]

    done: list[int] = []
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen([ARCHIVE, "serve", "--port", str(port), "--workers", "1"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 40
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "archive serve did not come up"
            time.sleep(0.2)
        token = httpx.post(base + "/api/v1/auth/token", data={"username": "rep", "password": PASSWORD}).json()
        halt = threading.Event()
        clients = [threading.Thread(target=_register_until_stopped,
                                    args=(base, token["access_token"], k, done, halt)) for k in range(CLIENTS)]
        for client in clients:
            client.start()
        deadline = time.monotonic() + 120
        while len(done) < REGISTRATIONS // 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(done) >= REGISTRATIONS // 3, "registrations did not get going"
        os.killpg(server.pid, signal.SIGKILL)  # mid-request: no shutdown, no rollback
        server.wait(10)
        halt.set()
        for client in clients:
            client.join(30)
    finally:
        stop(server)

    assert len(done) < REGISTRATIONS, "the kill came after every registration: nothing was interrupted"
    with committed_pg_engine.connect() as conn:
        orphans = conn.execute(text(
            "SELECT count(*) FROM data_keys k LEFT JOIN customers c ON c.id = k.customer_id WHERE c.id IS NULL"
        )).scalar_one()
        customers = conn.execute(text("SELECT count(*) FROM customers")).scalar_one()
        keys = conn.execute(text("SELECT count(DISTINCT customer_id) FROM data_keys")).scalar_one()
    assert orphans == 0
    assert customers >= len(done)
    assert keys == customers  # every customer has its key, and no key is left over
