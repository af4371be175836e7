"""One error of each status the service produces, each as RFC 9457 problem+json."""

from __future__ import annotations

import pytest
from fastapi import APIRouter

from service.app import create_app
from tests.support import ApiClient, add_user, assert_problem, make_context


@pytest.fixture
def admin_token(api, ctx):
    add_user(ctx, username="root", roles=["admin"], department="IT")
    return api.token("root")


def test_401_unauthenticated(api):
    assert_problem(api.get("/api/v1/users/me"), 401)


def test_403_forbidden(api, ctx):
    add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")
    assert_problem(api.get("/api/v1/users", token=api.token("rep")), 403)


def test_404_unknown_route_and_unknown_user(api, admin_token):
    assert_problem(api.get("/api/v1/no-such-route", token=admin_token), 404)
    assert_problem(api.patch("/api/v1/users/0190a000-0000-7000-8000-00000000ffff", token=admin_token,
                             json={"disabled": True}), 404)


def test_405_method_not_allowed(api):
    assert_problem(api.request("DELETE", "/api/v1/auth/token"), 405)


def test_409_conflict(api, admin_token):
    body = {"code": "DUP", "name": "Duplicate"}
    assert api.post("/api/v1/departments", token=admin_token, json=body).status_code == 201
    assert_problem(api.post("/api/v1/departments", token=admin_token, json=body), 409)


def test_422_validation_names_each_field(api, admin_token):
    body = assert_problem(api.post("/api/v1/users", token=admin_token, json={"username": "", "roles": []}), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"username", "password", "roles"} <= fields
    assert all(e["message"] for e in body["errors"])


def test_422_malformed_json(api, admin_token):
    response = api.post("/api/v1/users", token=admin_token, content=b"{not json",
                        headers={"content-type": "application/json"})
    assert_problem(response, 422)


def test_422_unknown_role_is_named(api, admin_token):
    response = api.post("/api/v1/users", token=admin_token, json={
        "username": "x", "password": "long enough password", "roles": ["wizard"]})
    assert "wizard" in assert_problem(response, 422)["detail"]


def test_413_body_too_large(db, tmp_path):
    ctx = make_context(db, tmp_path, ARCHIVE_MAX_UPLOAD_BYTES="1000")
    api = ApiClient(create_app(ctx))
    assert_problem(api.post("/api/v1/auth/token", content=b"x" * 5000,
                            headers={"content-type": "application/x-www-form-urlencoded"}), 413)


def test_429_with_retry_after(api, ctx):
    add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")
    for _ in range(5):
        assert api.login("rep", "wrong password").status_code == 401
    response = api.login("rep", "wrong password")
    assert_problem(response, 429)
    assert int(response.headers["retry-after"]) >= 1


def test_500_is_generic_and_carries_the_request_id(db, tmp_path):
    app = create_app(make_context(db, tmp_path))
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail 4111-1111")

    app.include_router(router)
    response = ApiClient(app).get("/boom", headers={"X-Request-ID": "trace-me-42"})
    body = assert_problem(response, 500)
    assert "4111" not in response.text and "RuntimeError" not in response.text
    assert response.headers["x-request-id"] == "trace-me-42"
    assert body["detail"]


def test_request_id_is_generated_when_absent_or_unsafe(api):
    assert len(api.get("/healthz").headers["x-request-id"]) == 32
    assert api.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"] != \
        "bad id\twith spaces"
