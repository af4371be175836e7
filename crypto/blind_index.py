"""Blind indexes for exact-match search over encrypted identifiers.

index = version (2 bytes, big-endian) ‖ HMAC-SHA256(key[kind, version], normalise(kind, value))[:16]

Each field kind has its own key, derived from the versioned root key with HKDF (info
`crypto/blind-index/v1/<kind>`), so equal strings in different kinds never share an index
value. The stored value names its version, so rows still on an old key are found with
`version_of`, and during a rotation a search looks for `candidates(...)` — one value per live
version — with `IN (...)`. Normalisation, truncation and what an index leaks are written down
in docs/crypto.md ("Blind indexes").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from crypto import _keyfiles
from crypto.dek import hkdf
from crypto.errors import InvalidIndexValue, KeyStillInUse, UnknownKeyVersion

INDEX_STEM = _keyfiles.INDEX_STEM
MAC_BYTES = 16  # 128 bits: no false matches in practice; see docs for the trade-off
INDEX_BYTES = 2 + MAC_BYTES


class KeyedHash:
    """HMAC-SHA256 under one key: the key is set up once (`hmac.new`) and the primed object
    copied for each message."""

    __slots__ = ("_primed",)

    def __init__(self, key: bytes) -> None:
        self._primed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, message: bytes) -> bytes:
        mac = self._primed.copy()
        mac.update(message)
        return mac.digest()

    def __repr__(self) -> str:
        return "KeyedHash(<key hidden>)"


class IndexKind(StrEnum):
    ID_NUMBER = "id_number"  # resident ID, passport, business licence / credit code
    PHONE = "phone"
    EMAIL = "email"
    NAME = "name"
    RECORD = "record"  # a whole record's canonical text: "is this row what we already hold?"


_MOBILE = re.compile(r"1[3-9]\d{9}")
_PHONE_SEPARATORS = re.compile(r"[\s\-–—.()/]")
_EXTENSION = re.compile(r"(转|分机|ext\.?|x|#|,|;).*$", re.IGNORECASE)
_ASCII_DIGITS = re.compile(r"[0-9]+")
# In ASCII, everything but letters and digits is a separator, punctuation, symbol or control.
_ASCII_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")


class _DropTable(dict[int, int | None]):
    """A `str.translate` table deleting separators (Z*), punctuation (P*), symbols (S*) and
    controls (C*): each character's category is looked up the first time it is seen and
    remembered (up to `_REMEMBERED` characters, so odd input cannot grow it without bound), so
    a text is then filtered in one C-level pass."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.category(chr(code))[0] in "ZPSC" else code
        if len(self) < _REMEMBERED:
            self[code] = kept
        return kept


_REMEMBERED = 65_536


DROP_SEPARATORS_AND_PUNCTUATION = _DropTable()


def _drop_punctuation(text: str) -> str:
    """Remove separators (Z*), punctuation (P*), symbols (S*) and controls (C*)."""
    if text.isascii():  # the common case, without a category lookup per character
        return _ASCII_NOT_ALNUM.sub("", text)
    return text.translate(DROP_SEPARATORS_AND_PUNCTUATION)


def _phone(text: str) -> str:
    # ASCII digits alone (most numbers in a file) hold no separator and no extension.
    compact = text if text.isdigit() and text.isascii() else _PHONE_SEPARATORS.sub("", _EXTENSION.sub("", text))
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not _ASCII_DIGITS.fullmatch(digits):
        raise InvalidIndexValue("a phone number has digits, spaces, dashes, dots, brackets and a leading +")
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if international and len(digits) < 4:  # a country code needs a number after it
        raise InvalidIndexValue("an international phone number needs digits after the country code")
    if not international and len(digits) == 13 and digits.startswith("86") and _MOBILE.fullmatch(digits[2:]):
        return digits[2:]  # 8613812345678: a mobile written with the country code but no +
    if not international:
        return digits
    if not digits.startswith("86"):
        return "+" + digits  # foreign numbers keep E.164 form
    domestic = digits[2:]
    if _MOBILE.fullmatch(domestic) or domestic.startswith("0"):
        return domestic
    return "0" + domestic  # +86 10 1234 5678 dials 010 1234 5678 at home


def _email(text: str) -> str:
    address = text.strip().lower()
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        raise InvalidIndexValue("an e-mail address needs a local part, @ and a domain")
    return address


def _id_number(text: str) -> str:
    if text.isascii() and text.isalnum():  # nothing to drop (the usual case)
        return text.upper()
    return _drop_punctuation(text).upper()


def _name(text: str) -> str:
    return _drop_punctuation(text.casefold())


def _record(text: str) -> str:
    return text.strip()


_NORMALISE = {IndexKind.ID_NUMBER: _id_number, IndexKind.PHONE: _phone, IndexKind.EMAIL: _email,
              IndexKind.NAME: _name, IndexKind.RECORD: _record}


def normalise(kind: IndexKind, value: str) -> str:
    """The canonical form that is indexed (docs/crypto.md "Blind indexes")."""
    # NFKC before (full-width digits, compatibility forms) and after: dropping a character or
    # case-folding can leave a sequence that composes differently, and a canonical form must
    # be a fixed point (normalise(normalise(x)) == normalise(x)). ASCII is NFKC already, and
    # every rule below maps ASCII to ASCII.
    if value.isascii():
        result = _NORMALISE[kind](value)
    else:
        result = unicodedata.normalize("NFKC", _NORMALISE[kind](unicodedata.normalize("NFKC", value)))
    if not result:
        raise InvalidIndexValue(f"nothing to index in this {kind.value}")
    return result


def version_of(index: bytes) -> int:
    return int.from_bytes(index[:2], "big")


class BlindIndex:
    """Computes blind indexes under versioned root keys; the highest version is active.

    Keys come from `blind-index-v<N>.key` files (0600); the directory is re-read when it
    changes, so a new version (or a removed one) is seen by every process at once.
    """

    def __init__(self, roots: Mapping[int, bytes] | None = None, *, directory: Path | None = None) -> None:
        self._dir = None if directory is None else Path(directory)
        self._stamp: int | None = None
        self._lock = threading.Lock()
        self._keys = PinnedIndex({}, [])
        if self._dir is None:
            self._install(roots or {})
        else:
            self._reload()

    @classmethod
    def from_directory(cls, directory: Path) -> BlindIndex:
        """Keys from `blind-index-v<N>.key` files, re-read whenever the directory changes."""
        return cls(directory=directory)

    @classmethod
    def from_secrets_dir(cls, directory: Path) -> BlindIndex:
        """Read-only keys mounted as `blind-index-v<N>` / `archive_blind-index_v<N>` files."""
        return cls(_keyfiles.secret_versions(Path(directory), INDEX_STEM))

    def _install(self, roots: Mapping[int, bytes]) -> None:
        if not roots:
            raise UnknownKeyVersion(f"no blind-index key in {self._dir or 'the given keys'}")
        keys = {(kind, v): KeyedHash(hkdf(root, salt=None, info=b"crypto/blind-index/v1/" + kind.value.encode()))
                for v, root in roots.items() for kind in IndexKind}
        self._keys = PinnedIndex(keys, sorted(roots, reverse=True))  # one assignment: readers see old or new

    def _reload(self) -> None:
        if self._dir is None:
            return
        stamp = os.stat(self._dir).st_mtime_ns
        if stamp != self._stamp:
            with self._lock:
                found = _keyfiles.versions(self._dir, INDEX_STEM)
                self._install({v: _keyfiles.read_private(p) for v, p in found.items()})
                self._stamp = stamp

    def pinned(self) -> PinnedIndex:
        """The keys as they are now, without re-checking the directory on every call: for bulk
        work (an import computes thousands of indexes; a rotation mid-import waits for the next)."""
        self._reload()
        return self._keys

    @property
    def active_version(self) -> int:
        return self.pinned().versions[0]

    @property
    def live_versions(self) -> list[int]:
        """Every version an index value may still carry, newest first."""
        return list(self.pinned().versions)

    def compute(self, kind: IndexKind, value: str, *, version: int | None = None) -> bytes:
        """The index of `value` under `version` (default: the active one)."""
        return self.pinned().compute(kind, value, version=version)

    def candidates(self, kind: IndexKind, value: str) -> list[bytes]:
        """One index value per live version, for `WHERE column IN (...)` during a rotation."""
        return self.pinned().candidates(kind, value)

    def is_current(self, index: bytes) -> bool:
        """False for a value the recompute job still has to redo under the active key."""
        return version_of(index) == self.active_version

    def __repr__(self) -> str:
        return f"BlindIndex(versions={self._keys.versions}, directory={self._dir})"


class PinnedIndex:
    """`BlindIndex.compute` / `candidates` over a fixed set of keys."""

    __slots__ = ("_keys", "versions")

    def __init__(self, keys: dict[tuple[IndexKind, int], KeyedHash], versions: list[int]) -> None:
        self._keys = keys
        self.versions = versions  # newest (active) first

    def compute(self, kind: IndexKind, value: str, *, version: int | None = None) -> bytes:
        chosen = self.versions[0] if version is None else version
        key = self._keys.get((kind, chosen))
        if key is None:
            raise UnknownKeyVersion(f"no blind-index key v{chosen}")
        return chosen.to_bytes(2, "big") + key.digest(normalise(kind, value).encode())[:MAC_BYTES]

    def candidates(self, kind: IndexKind, value: str) -> list[bytes]:
        """Active version first."""
        text = normalise(kind, value).encode()
        return [v.to_bytes(2, "big") + self._keys[(kind, v)].digest(text)[:MAC_BYTES] for v in self.versions]

    def hex_candidates(self, kind: IndexKind, value: str) -> list[str]:
        """`candidates` as the hex text the database stores; empty when nothing is left to
        index once normalised."""
        try:
            return [c.hex() for c in self.candidates(kind, value)]
        except InvalidIndexValue:
            return []


def rotate_index_key(directory: Path) -> int:
    """Create the next blind-index key version; it is active as soon as the file exists."""
    found = _keyfiles.versions(Path(directory), INDEX_STEM)
    version = max(found, default=0) + 1
    _keyfiles.write_new(Path(directory), INDEX_STEM, version, os.urandom(32))
    return version


def retire_index_key(directory: Path, version: int, *, remaining: int) -> None:
    """Erase an old index key once `remaining` (rows still indexed under it) is zero."""
    found = _keyfiles.versions(Path(directory), INDEX_STEM)
    if version not in found:
        raise UnknownKeyVersion(f"no blind-index key v{version}")
    if version == max(found):
        raise KeyStillInUse(version, 1, "it is the active version", key="blind-index key")
    if remaining:
        raise KeyStillInUse(version, remaining, "rows are still indexed under it", key="blind-index key")
    _keyfiles.erase(found[version])
