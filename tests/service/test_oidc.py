"""Tokens of an external OpenID Connect issuer, verified against its JWKS served on loopback."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from service.app import create_app
from tests.support import ApiClient, add_user, assert_problem, make_context

ISSUER = "https://sso.example.test"


@pytest.fixture
def idp():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    jwks = {"keys": [{**jwk.construct(public, "RS256").to_dict(), "kid": "k1", "use": "sig"}]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield pem, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()
    server.server_close()


def external_token(pem: str, *, sub: str, kid: str = "k1", **over) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "archive", "sub": sub, "iat": now, "nbf": now, "exp": now + 300,
              "jti": uuid.uuid4().hex} | over
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid})


def test_external_oidc_tokens_are_accepted_for_known_users(db, tmp_path, idp):
    pem, jwks_url = idp
    ctx = make_context(db, tmp_path, ARCHIVE_OIDC_ISSUER=ISSUER, ARCHIVE_OIDC_JWKS_URL=jwks_url,
                       ARCHIVE_OIDC_AUDIENCE="archive")
    api = ApiClient(create_app(ctx))
    add_user(ctx, username="finance.li", roles=["finance"], department="FIN")
    response = api.get("/api/v1/users/me", token=external_token(pem, sub="finance.li"))
    assert response.status_code == 200 and response.json()["roles"] == ["finance"]
    assert_problem(api.get("/api/v1/users/me", token=external_token(pem, sub="stranger")), 401)
    assert_problem(api.get("/api/v1/users/me", token=external_token(pem, sub="finance.li", aud="other")), 401)
    assert_problem(api.get("/api/v1/users/me", token=external_token(pem, sub="finance.li", kid="nope")), 401)
