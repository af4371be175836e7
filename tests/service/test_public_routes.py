"""Authenticated by default: every route outside the public list must refuse a caller
without a token."""

from __future__ import annotations

import re

from starlette.routing import Route

from service.app import PUBLIC_ROUTES, create_app

SOME_ID = "0190a000-0000-7000-8000-000000000001"


def all_operations(app) -> set[tuple[str, str]]:
    """Every (method, path) the app serves: the OpenAPI operations (which include routes of
    included routers) plus plain routes mounted on the app itself (docs, schema)."""
    operations = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    for route in app.routes:
        if isinstance(route, Route):
            operations |= {(m, route.path) for m in (route.methods or {"GET"}) - {"HEAD", "OPTIONS"}}
    return operations


def test_every_route_outside_the_public_list_requires_authentication(ctx, api):
    app = create_app(ctx)
    operations = all_operations(app)
    private = [(m, p) for m, p in operations if p not in PUBLIC_ROUTES]
    for method, path in sorted(private):
        response = api.request(method, re.sub(r"\{[^}]+\}", SOME_ID, path))
        assert response.status_code == 401, f"{method} {path} answered {response.status_code} without a token"
    assert len(private) >= 6
    assert {p for _, p in operations} >= {"/healthz", "/api/v1/auth/token", "/docs"}


def test_public_routes_answer_without_a_token(api):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert api.get(path).status_code == 200, path
