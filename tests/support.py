"""Test helpers: a context with cheap Argon2, an in-process HTTP client over httpx's ASGI
transport, and small keyword-only factories that go through the real services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx

from archive.db import Database
from archive.identity.models import User
from archive.identity.repository import IdentityRepository
from archive.identity.service import IdentityService, NewUser
from archive.settings import Settings
from service.context import AppContext

PASSWORD = "correct horse battery staple"
JWT_SECRET = "test-secret-" + "k" * 40

# Cheap hashing in tests only; production parameters are asserted by their own test.
TEST_ENV = {
    "ARCHIVE_ENV": "test",
    "ARCHIVE_ARGON2_TIME_COST": "1",
    "ARCHIVE_ARGON2_MEMORY_COST": "8",
    "ARCHIVE_ARGON2_PARALLELISM": "1",
    "ARCHIVE_JWT_SECRET": JWT_SECRET,
}


def make_context(db: Database, data_dir: Path, **env: str) -> AppContext:
    import os

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.environ["ARCHIVE_DATA_DIR"] = str(data_dir)
    try:
        settings = Settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return AppContext.from_settings(settings, db)


def add_user(
    ctx: AppContext,
    *,
    username: str,
    roles: list[str],
    department: str | None = None,
    password: str = PASSWORD,
    kind: str = "staff",
    customer_id: Any = None,
) -> User:
    with ctx.db.unit_of_work() as uow:
        identity = IdentityService(IdentityRepository(uow.session), ctx.passwords)
        if department and identity.repo.department_by_code(department) is None:
            identity.add_department(department, department.title())
        return identity.add_user(NewUser(username=username, display_name=username, password=password,
                                         roles=roles, department_code=department, kind=kind,
                                         customer_id=customer_id))


class ApiClient:
    """Synchronous calls into the ASGI app in-process (httpx ASGITransport, real middleware)."""

    def __init__(self, app: Any, client_address: str = "127.0.0.1") -> None:
        self.app = app
        self.client_address = client_address

    def request(self, method: str, path: str, *, token: str | None = None, purpose: str | None = None,
                client: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if purpose:
            headers["X-Purpose"] = purpose
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False,
                                        client=(client or self.client_address, 50000))

        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.request(method, path, headers=headers, **kwargs)

        return anyio.run(call)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def login(self, username: str, password: str = PASSWORD, *, client: str | None = None) -> httpx.Response:
        return self.post("/api/v1/auth/token", data={"username": username, "password": password}, client=client)

    def token(self, username: str, password: str = PASSWORD) -> str:
        response = self.login(username, password)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = json.loads(response.content)
    assert body["status"] == status
    assert body["title"] and body["type"] and "detail" in body
    assert "Traceback" not in response.text
    return body
