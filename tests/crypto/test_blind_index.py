"""Blind indexes: normalisation, key separation per kind, versions and rotation."""

from __future__ import annotations

import hmac
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.blind_index import (
    _EXTENSION,
    _NORMALISE,
    _PHONE_SEPARATORS,
    DROP_SEPARATORS_AND_PUNCTUATION,
    INDEX_BYTES,
    BlindIndex,
    IndexKind,
    KeyedHash,
    normalise,
    retire_index_key,
    rotate_index_key,
    version_of,
)
from crypto.errors import InvalidIndexValue, KeyStillInUse, UnknownKeyVersion
from crypto.keys import generate_local_keys

PHONE, EMAIL, ID, NAME = IndexKind.PHONE, IndexKind.EMAIL, IndexKind.ID_NUMBER, IndexKind.NAME


@pytest.mark.parametrize(("raw", "expected"), [
    ("13812345678", "13812345678"),
    ("138 1234 5678", "13812345678"),
    ("138-1234-5678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    ("+86-13812345678", "13812345678"),
    ("0086 13812345678", "13812345678"),
    ("8613812345678", "13812345678"),
    ("(+86) 138.1234.5678", "13812345678"),
    ("１３８１２３４５６７８", "13812345678"),  # full-width digits
    ("010-12345678", "01012345678"),
    ("+86 10 1234 5678", "01012345678"),  # the trunk 0 comes back at home
    ("(021) 6123 4567 转 808", "02161234567"),  # the extension is not part of the number
    ("+1 (415) 555-0100", "+14155550100"),
    ("0044 20 7946 0958", "+442079460958"),
])
def test_phone_normalisation(raw: str, expected: str) -> None:
    assert normalise(PHONE, raw) == expected


@pytest.mark.parametrize(("kind", "raw", "expected"), [
    (ID, "11010519491231002x", "11010519491231002X"),
    (ID, " 110105 19491231 002X ", "11010519491231002X"),
    (ID, "１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
    (ID, "91350100-M000100Y43", "91350100M000100Y43"),
    (EMAIL, "  Zhang.San@Example.COM ", "zhang.san@example.com"),
    (EMAIL, "ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "zhang@example.com"),
    (NAME, "张 三", "张三"),
    (NAME, "阿卜杜·热合曼", "阿卜杜热合曼"),
    (NAME, "  O'Brien-Smith, Mary ", "obriensmithmary"),
    (NAME, "STRASSE", "strasse"),
])
def test_other_normalisation(kind: IndexKind, raw: str, expected: str) -> None:
    assert normalise(kind, raw) == expected


@pytest.mark.parametrize(("kind", "raw"), [
    (PHONE, "call me"), (PHONE, ""), (PHONE, "+"), (EMAIL, "no-at-sign"), (EMAIL, "@example.com"),
    (ID, " - "), (NAME, "·"),
])
def test_nothing_to_index(kind: IndexKind, raw: str) -> None:
    with pytest.raises(InvalidIndexValue):
        normalise(kind, raw)
    assert issubclass(InvalidIndexValue, ValueError)


def make_index(tmp_path: Path) -> BlindIndex:
    generate_local_keys(tmp_path / "keys")
    return BlindIndex.from_directory(tmp_path / "keys")


def test_equal_values_match_and_kinds_do_not_share_keys(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    value = index.compute(PHONE, "+86 138 1234 5678")
    assert value == index.compute(PHONE, "13812345678")
    assert len(value) == INDEX_BYTES and version_of(value) == 1
    assert index.compute(ID, "13812345678") != index.compute(NAME, "13812345678")
    assert index.compute(PHONE, "13812345679") != value


@given(st.text(min_size=1, max_size=30))
@settings(deadline=None, max_examples=300)
def test_normalisation_is_idempotent(text: str) -> None:
    for kind in IndexKind:
        try:
            once = normalise(kind, text)
        except InvalidIndexValue:
            continue
        assert normalise(kind, once) == once


@given(st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=40))
@settings(deadline=None, max_examples=300)
def test_the_ascii_shortcut_normalises_as_the_full_rules_do(text: str) -> None:
    def drop(t: str) -> str:  # the general rule: a category lookup per character
        return "".join(ch for ch in t if unicodedata.category(ch)[0] not in "ZPSC")

    def full(kind: IndexKind) -> str | None:
        nfkc = unicodedata.normalize("NFKC", text)
        if kind is IndexKind.ID_NUMBER:
            result = drop(nfkc).upper()
        elif kind is IndexKind.NAME:
            result = drop(nfkc.casefold())
        else:
            try:
                result = _NORMALISE[kind](nfkc)
            except InvalidIndexValue:
                return None
        return unicodedata.normalize("NFKC", result) or None

    for kind in IndexKind:
        try:
            fast: str | None = normalise(kind, text)
        except InvalidIndexValue:
            fast = None
        assert fast == full(kind)


@given(st.text(alphabet="0123456789", min_size=1, max_size=24) | st.text(max_size=24))
def test_plain_digits_hold_no_phone_separator_or_extension(text: str) -> None:
    """The premise of `_phone`'s shortcut for ASCII digits: its rules would leave them as they are."""
    if text.isdigit() and text.isascii():
        assert _PHONE_SEPARATORS.sub("", _EXTENSION.sub("", text)) == text


def test_hex_candidates_are_the_stored_form_of_candidates(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    rotate_index_key(tmp_path / "keys")  # two live versions
    pinned = index.pinned()
    for kind, value in ((IndexKind.PHONE, "+86 138 1234 5678"), (IndexKind.NAME, "周 伟"), (IndexKind.EMAIL, "A@b.cn")):
        assert pinned.hex_candidates(kind, value) == [c.hex() for c in index.candidates(kind, value)]
        assert len(pinned.hex_candidates(kind, value)) == 2
    assert pinned.hex_candidates(IndexKind.ID_NUMBER, "---") == []


@given(st.binary(max_size=100), st.binary(max_size=200))
@settings(deadline=None, max_examples=200)
def test_keyed_hash_is_hmac_sha256(key: bytes, message: bytes) -> None:
    assert KeyedHash(key).digest(message) == hmac.digest(key, message, "sha256")
    assert repr(KeyedHash(key)) == "KeyedHash(<key hidden>)"


def test_rotation_searches_both_versions_until_the_old_key_is_retired(tmp_path: Path) -> None:
    index = make_index(tmp_path)
    keys = tmp_path / "keys"
    stored = index.compute(EMAIL, "a@example.com")  # a row indexed before the rotation
    assert rotate_index_key(keys) == 2
    assert index.active_version == 2  # seen without a restart
    assert not index.is_current(stored)
    candidates = index.candidates(EMAIL, "A@example.com ")
    assert [version_of(c) for c in candidates] == [2, 1]
    assert stored in candidates
    with pytest.raises(KeyStillInUse, match="3 rows"):
        retire_index_key(keys, 1, remaining=3)
    with pytest.raises(KeyStillInUse, match="active"):
        retire_index_key(keys, 2, remaining=0)
    retire_index_key(keys, 1, remaining=0)  # the recompute job has finished
    assert index.live_versions == [2]
    with pytest.raises(UnknownKeyVersion):
        index.compute(EMAIL, "a@example.com", version=1)


def test_index_keys_from_a_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "ARCHIVE_BLIND_INDEX_V1").write_text(os.urandom(32).hex())
    index = BlindIndex.from_secrets_dir(tmp_path)
    assert version_of(index.compute(PHONE, "13812345678")) == 1
    with pytest.raises(UnknownKeyVersion):
        BlindIndex.from_secrets_dir(tmp_path / "nothing")


@given(st.text(max_size=40))
def test_the_translate_table_drops_exactly_separators_punctuation_symbols_and_controls(text: str) -> None:
    expected = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "ZPSC")
    assert text.translate(DROP_SEPARATORS_AND_PUNCTUATION) == expected


def test_the_translate_table_stays_bounded() -> None:
    from crypto import blind_index

    table = blind_index._DropTable()
    for code in range(0x4E00, 0x4E00 + blind_index._REMEMBERED + 100):
        kept = unicodedata.category(chr(code))[0] not in "ZPSC"
        assert chr(code).translate(table) == (chr(code) if kept else "")
    assert len(table) == blind_index._REMEMBERED
    assert "\u3000x".translate(table) == "x"  # still right past the bound (U+3000 is a space)
