"""The hot-path HMAC and HKDF equal the standard constructions on any input."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from crypto.sha256mac import KeyedHash, hkdf


@given(key=st.binary(max_size=200), message=st.binary(max_size=300))
def test_keyed_hash_is_hmac_sha256(key: bytes, message: bytes) -> None:
    assert KeyedHash(key).digest(message) == hmac.digest(key, message, "sha256")
    assert repr(KeyedHash(key)) == "KeyedHash(<key hidden>)"


@given(key=st.binary(min_size=1, max_size=100), salt=st.none() | st.binary(max_size=100),
       info=st.binary(max_size=100))
def test_hkdf_is_rfc_5869_hkdf_sha256(key: bytes, salt: bytes | None, info: bytes) -> None:
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)
    assert hkdf(key, salt=salt, info=info) == expected


def test_hkdf_matches_the_rfc_5869_test_vector() -> None:
    # RFC 5869 appendix A.1, first 32 bytes of the OKM.
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    okm = bytes.fromhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf")
    assert hkdf(ikm, salt=salt, info=info) == okm
