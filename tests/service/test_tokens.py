"""Every way a token can be wrong ends in the same 401 problem; a valid token gets in."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from tests.support import JWT_SECRET, add_user, assert_problem, make_context

ME = "/api/v1/users/me"


@pytest.fixture
def rep(ctx):
    return add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")


def claims(user, **over):
    now = int(time.time())
    base = {"iss": "customer-archive", "aud": "customer-archive-api", "sub": str(user.id), "iat": now,
            "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex, "ver": user.token_version,
            "roles": user.roles}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def forge(payload, key=JWT_SECRET, alg="HS256"):
    return jwt.encode(payload, key, algorithm=alg)


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_valid_token_gets_200(api, rep):
    response = api.get(ME, token=api.token("rep"))
    assert response.status_code == 200
    assert response.json()["username"] == "rep"
    assert response.json()["roles"] == ["sales_rep"]


def test_forged_but_correct_token_is_accepted(api, rep):
    """The fixture below is only meaningful if a correctly forged token passes."""
    assert api.get(ME, token=forge(claims(rep))).status_code == 200


@pytest.mark.parametrize(
    ("case", "over"),
    [
        ("expired", {"exp": int(time.time()) - 120, "iat": int(time.time()) - 700, "nbf": int(time.time()) - 700}),
        ("not yet valid", {"nbf": int(time.time()) + 3600}),
        ("issued in the future", {"iat": int(time.time()) + 3600, "nbf": None}),
        ("wrong issuer", {"iss": "someone-else"}),
        ("wrong audience", {"aud": "another-api"}),
        ("missing audience", {"aud": None}),
        ("missing expiry", {"exp": None}),
        ("missing jti", {"jti": None}),
    ],
)
def test_bad_claims_give_401(api, rep, case, over):
    body = assert_problem(api.get(ME, token=forge(claims(rep, **over))), 401)
    assert body["type"].endswith("unauthenticated"), case


def test_alg_none_gives_401(api, rep):
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(rep))}."
    assert_problem(api.get(ME, token=token), 401)


def test_tampered_payload_gives_401(api, rep):
    header, _payload, signature = forge(claims(rep)).split(".")
    promoted = claims(rep, roles=["admin"])
    assert_problem(api.get(ME, token=f"{header}.{b64(promoted)}.{signature}"), 401)


def test_wrong_secret_gives_401(api, rep):
    assert_problem(api.get(ME, token=forge(claims(rep), key="another-secret-" + "x" * 40)), 401)


def test_revoked_token_gives_401(api, rep, ctx):
    token = api.token("rep")
    admin = add_user(ctx, username="root", roles=["admin"], department="IT")
    assert admin
    response = api.post(f"/api/v1/users/{rep.id}/revoke-sessions", token=api.token("root"))
    assert response.status_code == 200
    assert_problem(api.get(ME, token=token), 401)
    assert api.get(ME, token=api.token("rep")).status_code == 200  # a fresh sign-in works


def test_disabled_user_gives_401(api, rep, ctx):
    token = api.token("rep")
    add_user(ctx, username="root", roles=["admin"], department="IT")
    assert api.patch(f"/api/v1/users/{rep.id}", token=api.token("root"), json={"disabled": True}).status_code == 200
    assert_problem(api.get(ME, token=token), 401)
    assert_problem(api.login("rep"), 401)


def test_missing_and_garbage_tokens_give_401_with_challenge(api, rep):
    for token in (None, "garbage", "a.b.c"):
        response = api.get(ME, token=token)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_algorithm_confusion_hs256_signed_with_rs256_public_key(db, tmp_path):
    """A server on RS256 must not accept an HS256 token whose HMAC key is its public key."""
    from service.app import create_app
    from tests.support import ApiClient

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    ctx = make_context(db, tmp_path, ARCHIVE_JWT_ALGORITHM="RS256", ARCHIVE_JWT_PRIVATE_KEY=private_pem,
                       ARCHIVE_JWT_PUBLIC_KEY=public_pem)
    api = ApiClient(create_app(ctx))
    rep = add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")
    assert api.get(ME, token=api.token("rep")).status_code == 200  # RS256 works
    # Sign HS256 by hand with the public key bytes as the secret (python-jose itself refuses to).
    import hashlib
    import hmac

    header = b64({"alg": "HS256", "typ": "JWT"})
    payload = b64(claims(rep))
    signature = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert_problem(api.get(ME, token=confused), 401)
