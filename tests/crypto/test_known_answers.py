"""Known answers of every stored format: field values, wrapped data keys, document blobs and
blind indexes (tests/crypto/known_answers.json, made by the code that wrote the data stored
today — never regenerated). The code must open each stored vector and, given the same key
and nonce, produce it again byte for byte: the formats cannot change by accident."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from crypto.blind_index import BlindIndex, IndexKind
from crypto.dek import FIELD_KEY_INFO, Dek, hkdf
from crypto.envelope import FieldCipher, FieldContext, seal
from crypto.keyring import wrap_aad
from crypto.keys import LocalKeyProvider
from crypto.streaming import BlobCipher, encrypt
from tests.crypto.helpers import ANY, OneKey

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "known_answers.json").read_text())
DEK_BYTES = bytes.fromhex(VECTORS["dek"])
CUSTOMER = uuid.UUID(VECTORS["customer"])


def _row_id(text: str) -> uuid.UUID | str:
    try:
        return uuid.UUID(text)
    except ValueError:
        return text  # a table keyed by text


def test_the_field_subkey_is_hkdf_of_the_data_key() -> None:
    assert hkdf(DEK_BYTES, salt=None, info=FIELD_KEY_INFO).hex() == VECTORS["field_key"]


@pytest.mark.parametrize("vector", VECTORS["field"], ids=lambda v: f"{v['table']}.{v['column']}")
def test_field_values_open_and_seal_to_the_stored_bytes(vector: dict[str, Any]) -> None:
    dek = Dek(CUSTOMER, vector["dek_version"], DEK_BYTES)
    ctx = FieldContext(vector["table"], vector["column"], _row_id(vector["row_id"]), CUSTOMER)
    stored, plaintext = bytes.fromhex(vector["sealed"]), bytes.fromhex(vector["plaintext"])
    assert FieldCipher(OneKey(dek)).decrypt(ANY, ctx, stored) == plaintext
    assert seal(dek, ctx, plaintext, _nonce=bytes.fromhex(vector["nonce"])) == stored


@pytest.mark.parametrize("vector", VECTORS["wrap"], ids=lambda v: f"kek-v{v['kek_version']}")
def test_wrapped_data_keys_unwrap_and_wrap_to_the_stored_bytes(vector: dict[str, Any], tmp_path: Path) -> None:
    version = vector["kek_version"]
    (tmp_path / f"kek-v{version}").write_bytes(bytes.fromhex(VECTORS["kek"]))
    provider = LocalKeyProvider.from_secrets_dir(tmp_path)
    aad = wrap_aad(CUSTOMER, vector["dek_version"])
    stored = bytes.fromhex(vector["wrapped"])
    assert provider.unwrap(version, stored, aad) == DEK_BYTES
    wrapped = provider.wrap(DEK_BYTES, aad, _nonce=bytes.fromhex(vector["nonce"]))
    assert (wrapped.kek_version, wrapped.blob) == (version, stored)


@pytest.mark.parametrize("vector", VECTORS["blob"], ids=lambda v: f"{len(v['plaintext']) // 2}-bytes")
def test_blobs_open_and_seal_to_the_stored_bytes(vector: dict[str, Any]) -> None:
    dek = Dek(CUSTOMER, vector["dek_version"], DEK_BYTES)
    ctx = FieldContext("documents", "content", uuid.UUID(vector["document_id"]), CUSTOMER)
    stored, plaintext = bytes.fromhex(vector["sealed"]), bytes.fromhex(vector["plaintext"])
    reader = BlobCipher(OneKey(dek)).decrypt(ANY, ctx, io.BytesIO(stored), plaintext_size=len(plaintext))
    assert b"".join(reader) == plaintext
    sink = io.BytesIO()
    sealed = encrypt(dek, ctx, io.BytesIO(plaintext), sink, segment_size=vector["segment_size"],
                     _salt_prefix=bytes.fromhex(vector["salt_and_prefix"]))
    assert sink.getvalue() == stored
    assert sealed.ciphertext_size == len(stored) and sealed.plaintext_size == len(plaintext)


@pytest.mark.parametrize("vector", VECTORS["index"], ids=lambda v: f"{v['kind']}:{v['value']}")
def test_blind_indexes_are_the_stored_values(vector: dict[str, Any]) -> None:
    index = BlindIndex({1: bytes.fromhex(VECTORS["blind_index_root"])})
    kind = IndexKind(vector["kind"])
    assert index.compute(kind, vector["value"]).hex() == vector["index"]
    assert index.pinned().hex_candidates(kind, vector["value"]) == [vector["index"]]
