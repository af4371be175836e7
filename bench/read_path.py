"""Governed read path against a bare read, on PostgreSQL with `--workers 2` (API.md
"Benchmarks": read.governed_throughput, read.governed_p99_open).

Both endpoints run in the same server processes (bench/_bare_app.py: the product app plus a
bench-only bare route), over loopback, with the same token. Governed: `GET /api/v1/customers/{id}`
as the owning sales rep with purpose `customer_service` — purpose and scope decided, six
encrypted fields opened (name, phone, e-mail, address, ID and tax number; identity masked), one
audit event committed before the answer. Bare: the same row as stored.

Throughput: 16 concurrent keep-alive clients, closed loop, alternating short windows of bare
and governed; medians. Latency: open loop at a fixed 100 requests/s (a request is due at its
scheduled time whether or not earlier ones have finished; latency counts from that time), for
30 s per side in alternating 6-s windows; p50 and p99 of each.
Run from the repository root: `python -m bench.read_path`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench._common import record

PG_URL = os.environ.get("ARCHIVE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WINDOW_S = float(os.environ.get("BENCH_WINDOW_S", "3.0"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CLIENTS = 16
OPEN_RATE = 100.0
OPEN_SECONDS = float(os.environ.get("BENCH_OPEN_SECONDS", "30"))
PASSWORD = "bench-password-123"
BIN = Path(sys.executable).parent


class Client:
    """One keep-alive HTTP/1.1 connection with just enough parsing (cheap on a 2-core box)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, purpose: str | None) -> int:
        """One request; a kept-alive connection the server has meanwhile closed (uvicorn drops
        idle ones after 5 s, which the open loop's pool meets) is reopened once and retried."""
        reused = self.writer is not None
        try:
            return await self._request(path, purpose)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
                raise
            return await self._request(path, purpose)

    async def _request(self, path: str, purpose: str | None) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        extra = f"X-Purpose: {purpose}\r\n" if purpose else ""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {self.token}\r\n{extra}\r\n"
                          .encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def paths(ids: list[str], governed: bool) -> tuple[list[str], str | None]:
    if governed:
        return [f"/api/v1/customers/{i}" for i in ids], "customer_service"
    return [f"/bench/bare/customers/{i}" for i in ids], None


async def closed_window(port: int, token: str, ids: list[str], governed: bool, seconds: float) -> float:
    urls, purpose = paths(ids, governed)
    stop = time.perf_counter() + seconds
    done = 0

    async def worker(n: int) -> None:
        nonlocal done
        client = Client(port, token)
        k = n
        while time.perf_counter() < stop:
            status = await client.get(urls[k % len(urls)], purpose)
            if status != 200:
                raise RuntimeError(f"status {status}")
            done += 1
            k += CLIENTS
        client.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(CLIENTS)))
    return done / (time.perf_counter() - start)


async def open_window(port: int, token: str, ids: list[str], governed: bool, seconds: float) -> list[float]:
    """Requests due every 1/100 s; each latency counts from its due time (queueing included)."""
    urls, purpose = paths(ids, governed)
    pool: list[Client] = [Client(port, token) for _ in range(64)]
    latencies: list[float] = []
    start = time.perf_counter() + 0.05
    total = int(seconds * OPEN_RATE)

    async def one(k: int) -> None:
        due = start + k / OPEN_RATE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        client = pool.pop() if pool else Client(port, token)
        status = await client.get(urls[k % len(urls)], purpose)
        latencies.append((time.perf_counter() - due) * 1000)
        pool.append(client)
        if status != 200:
            raise RuntimeError(f"status {status}")

    try:
        await asyncio.gather(*(one(k) for k in range(total)))
    finally:
        for client in pool:
            client.close()
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextlib.contextmanager
def server(env: dict[str, str], port: int, log: Path):  # type: ignore[no-untyped-def]
    with log.open("w") as out:
        proc = subprocess.Popen([str(BIN / "uvicorn"), "bench._bare_app:create", "--factory", "--port", str(port),
                                 "--workers", "2", "--no-access-log", "--log-level", "warning"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def main() -> None:
    name = f"bench_read_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, ARCHIVE_DATA_DIR=str(Path(tmp) / "data"), ARCHIVE_DATABASE_URL=url,
                       ARCHIVE_DEMO_PASSWORD=PASSWORD, ARCHIVE_ENV="development", ARCHIVE_LOG_LEVEL="WARNING",
                       PYTHONPATH=str(Path(__file__).resolve().parent.parent))
            seeded = subprocess.run([str(BIN / "archive"), "demo", "--no-serve"], env=env, capture_output=True,
                                    text=True, timeout=300)
            if seeded.returncode != 0:
                raise RuntimeError(seeded.stderr[-2000:])
            port = 8700 + os.getpid() % 200
            with server(env, port, Path(tmp) / "serve.log"):
                base = f"http://127.0.0.1:{port}"
                token = httpx.post(base + "/api/v1/auth/token",
                                   data={"username": "sales_rep", "password": PASSWORD}).json()["access_token"]
                own = httpx.get(base + "/api/v1/customers", params={"limit": 500},
                                headers={"Authorization": f"Bearer {token}", "X-Purpose": "customer_service"}).json()
                ids = [c["id"] for c in own["items"] if c["kind"] == "individual"]
                random.Random(1).shuffle(ids)
                print(f"{len(ids)} individual customers of sales_rep; {CLIENTS} clients; windows of {WINDOW_S} s")
                asyncio.run(closed_window(port, token, ids, True, 1.0))  # warm both paths
                asyncio.run(closed_window(port, token, ids, False, 1.0))
                bare_rates, governed_rates = [], []
                for _ in range(ROUNDS):
                    bare_rates.append(asyncio.run(closed_window(port, token, ids, False, WINDOW_S)))
                    governed_rates.append(asyncio.run(closed_window(port, token, ids, True, WINDOW_S)))
                bare, governed = statistics.median(bare_rates), statistics.median(governed_rates)
                record("read.governed_throughput", value=governed, unit="req/s", target=">= 0.5", n=ROUNDS,
                       baseline="bare read of the same row, same server stack", baseline_value=bare,
                       ratio=governed / bare)
                bare_lat: list[float] = []
                gov_lat: list[float] = []
                windows = 5
                for _ in range(windows):
                    bare_lat += asyncio.run(open_window(port, token, ids, False, OPEN_SECONDS / windows))
                    gov_lat += asyncio.run(open_window(port, token, ids, True, OPEN_SECONDS / windows))
                bp50, bp99 = percentile(bare_lat, 50), percentile(bare_lat, 99)
                gp50, gp99 = percentile(gov_lat, 50), percentile(gov_lat, 99)
                print(f"open loop {OPEN_RATE:.0f} req/s, {OPEN_SECONDS:.0f} s each: bare p50 {bp50:.1f} ms "
                      f"p99 {bp99:.1f} ms; governed p50 {gp50:.1f} ms p99 {gp99:.1f} ms")
                record("read.governed_p99_open", value=gp99, unit="ms", target="<= 3", n=len(gov_lat),
                       baseline="bare p99, open loop at 100 req/s", baseline_value=bp99, ratio=gp99 / bp99)
                record("read.governed_p50_open_ms", value=gp50, unit="ms", target="<= 1000", n=len(gov_lat))
                record("read.bare_p99_open_ms", value=bp99, unit="ms", target="<= 1000", n=len(bare_lat))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
