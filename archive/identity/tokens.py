"""Access tokens (JWT through python-jose), issued and verified under one strict policy:
exactly one algorithm accepted, `exp`, `nbf`, `iat`, `iss`, `aud`, `sub` and `jti` required.

Tokens from an external OpenID Connect issuer are accepted when configured: their keys come
from the issuer's JWKS, again with a one-element algorithm allow-list.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from jose import jwk, jwt
from jose.exceptions import JOSEError

from archive.errors import AuthenticationFailed

CLOCK_SKEW_SECONDS = 30
REQUIRED = ("exp", "nbf", "iat", "iss", "aud", "sub", "jti")


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    token_version: int
    roles: tuple[str, ...]
    jti: str
    external: bool = False


@dataclass(slots=True)
class TokenService:
    """Issues and verifies the service's own tokens."""

    algorithm: str
    signing_key: str
    verifying_key: str
    issuer: str
    audience: str
    ttl_seconds: int
    oidc: OidcVerifier | None = None

    def issue(self, *, subject: str, token_version: int, roles: list[str]) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "ver": token_version,
            "roles": roles,
        }
        return jwt.encode(claims, self.signing_key, algorithm=self.algorithm), self.ttl_seconds

    def verify(self, token: str) -> TokenClaims:
        """Claims of a valid token; AuthenticationFailed for anything else, without saying why
        to the caller (the reason is for the log)."""
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise AuthenticationFailed("The access token is not valid.") from exc
        if self.oidc is not None and header.get("kid") and header.get("alg") == self.oidc.algorithm:
            return self.oidc.verify(token, header)
        claims = _decode(token, self.verifying_key, self.algorithm, self.issuer, self.audience)
        version = claims.get("ver")
        roles = claims.get("roles", [])
        if not isinstance(version, int) or not isinstance(roles, list):
            raise AuthenticationFailed("The access token is not valid.")
        return TokenClaims(str(claims["sub"]), version, tuple(str(r) for r in roles), str(claims["jti"]))


def _decode(token: str, key: Any, algorithm: str, issuer: str, audience: str) -> dict[str, Any]:
    options = {f"require_{name}": True for name in REQUIRED} | {"leeway": CLOCK_SKEW_SECONDS}
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[algorithm], audience=audience, issuer=issuer, options=options
        )
    except (JOSEError, ValueError, TypeError) as exc:
        raise AuthenticationFailed("The access token is not valid.") from exc
    # python-jose checks that `iat` is a number, not that it is in the past.
    if claims["iat"] > time.time() + CLOCK_SKEW_SECONDS:
        raise AuthenticationFailed("The access token is not valid.")
    return claims


@dataclass
class OidcVerifier:
    """Verifies tokens of an external OpenID Connect issuer against its JWKS (cached)."""

    issuer: str
    jwks_url: str
    audience: str
    algorithm: str = "RS256"
    cache_seconds: int = 300
    _keys: dict[str, Any] = field(default_factory=dict)
    _fetched_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _key(self, kid: str) -> Any:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > self.cache_seconds
            if stale or kid not in self._keys:
                response = httpx.get(self.jwks_url, timeout=5)
                response.raise_for_status()
                self._keys = {k["kid"]: k for k in response.json().get("keys", []) if "kid" in k}
                self._fetched_at = time.monotonic()
            if kid not in self._keys:
                raise AuthenticationFailed("The access token is not valid.")
            return jwk.construct(self._keys[kid], algorithm=self.algorithm)

    def verify(self, token: str, header: dict[str, Any]) -> TokenClaims:
        try:
            key = self._key(str(header["kid"]))
        except httpx.HTTPError as exc:
            raise AuthenticationFailed("The access token is not valid.") from exc
        claims = _decode(token, key, self.algorithm, self.issuer, self.audience)
        roles = claims.get("roles", [])
        return TokenClaims(
            str(claims["sub"]), 0, tuple(str(r) for r in roles if isinstance(r, str)), str(claims["jti"]), True
        )
