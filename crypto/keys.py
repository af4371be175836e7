"""Key-encryption keys (KEKs): the provider protocol and the local file provider.

The protocol wraps and unwraps; it never hands out a KEK. That is the shape an HSM or a
cloud KMS offers (encrypt/decrypt under a key id that never leaves the device), so such a
provider implements these seven methods and nothing in `crypto.keyring` changes.

KEK versions move one way: `active` (wraps new DEKs) → `enabled` (unwraps only, after a
rotation) → `retired` (refuses both; its material may then be deleted). Versions are never
reused, even after their file is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto import _keyfiles
from crypto.errors import (
    KeyProviderReadOnly,
    KeyRetired,
    KeyStillInUse,
    KeyUnavailable,
    TamperedCiphertext,
    UnknownKeyVersion,
)

KEK_STEM = _keyfiles.KEK_STEM
STATE_FILE = "kek-state.json"
_WRAP_FORMAT = b"\x01"


class KekState(StrEnum):
    ACTIVE = "active"  # wraps new DEKs, unwraps
    ENABLED = "enabled"  # unwraps only: an older version until rewrap has moved every DEK off it
    RETIRED = "retired"  # neither; nothing depends on it any more


@dataclass(frozen=True, slots=True)
class KekVersion:
    version: int
    state: KekState
    has_material: bool  # False once the key itself was deleted


@dataclass(frozen=True, slots=True)
class Wrapped:
    """A DEK wrapped by KEK `kek_version`. Opaque bytes; `repr` shows only the size."""

    kek_version: int
    blob: bytes

    def __repr__(self) -> str:
        return f"Wrapped(kek_version={self.kek_version}, {len(self.blob)} bytes)"


class KeyProvider(Protocol):
    """Versioned KEKs. Implementations must be safe to call from several threads."""

    def active_version(self) -> int: ...

    def versions(self) -> list[KekVersion]: ...

    def wrap(self, dek: bytes, aad: bytes) -> Wrapped:
        """Wrap under the active version; `aad` must be given again to unwrap."""
        ...

    def unwrap(self, kek_version: int, blob: bytes, aad: bytes) -> bytes:
        """Raises KeyRetired, UnknownKeyVersion or TamperedCiphertext."""
        ...

    def create_version(self) -> int:
        """Make a new version and make it active; the previous active becomes enabled."""
        ...

    def retire_version(self, version: int) -> None:
        """Refuse it from now on (KeyStillInUse for the active version)."""
        ...

    def delete_version(self, version: int) -> None:
        """Destroy the material of a retired version (KeyStillInUse otherwise)."""
        ...


class LocalKeyProvider:
    """KEKs as 32 random bytes in `kek-v<N>.key` files (0600), states in `kek-state.json`.

    Several processes may share the directory: mutations hold an exclusive `flock`, and
    readers reload the state file whenever its modification time changes.
    Use `from_secrets_dir` for keys mounted read-only (pydantic-settings `secrets_dir`).
    """

    def __init__(self, directory: Path) -> None:
        self._dir = Path(directory)
        self._state_path = str(self._dir / STATE_FILE)
        self._read_only = False
        self._lock = threading.RLock()
        self._aeads: dict[int, AESGCM] = {}
        self._states: dict[int, KekState] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._refresh()
        if not self._states:
            raise KeyUnavailable(f"no key-encryption key in {self._dir}: run generate_local_keys() or provision one")

    @classmethod
    def from_secrets_dir(cls, directory: Path, *, active: int | None = None) -> LocalKeyProvider:
        """Read-only provider over mounted secrets: `kek-v<N>` / `archive_kek_v<N>` files.

        The active version is `active`, else the highest; all others are enabled.
        """
        keys = _keyfiles.secret_versions(Path(directory), KEK_STEM)
        if not keys:
            raise KeyUnavailable(f"no kek secrets in {directory}")
        chosen = active if active is not None else max(keys)
        if chosen not in keys:
            raise UnknownKeyVersion(f"no kek v{chosen} secret in {directory}")
        self = cls.__new__(cls)
        self._dir, self._read_only, self._lock, self._stamp = Path(directory), True, threading.RLock(), None
        self._state_path = str(self._dir / STATE_FILE)  # never read: mounted keys have no state file
        self._aeads = {v: AESGCM(key) for v, key in keys.items()}
        self._states = {v: KekState.ACTIVE if v == chosen else KekState.ENABLED for v in keys}
        return self

    # -- reading -------------------------------------------------------------------------

    def active_version(self) -> int:
        with self._lock:
            self._refresh()
            for version, state in self._states.items():
                if state is KekState.ACTIVE:
                    return version
        raise KeyUnavailable(f"no active key-encryption key in {self._dir}")

    def versions(self) -> list[KekVersion]:
        with self._lock:
            self._refresh()
            present = set(self._aeads) if self._read_only else set(_keyfiles.versions(self._dir, KEK_STEM))
            return [KekVersion(v, s, v in present) for v, s in sorted(self._states.items())]

    def wrap(self, dek: bytes, aad: bytes, *, _nonce: bytes | None = None) -> Wrapped:
        # `_nonce` is for the known-answer tests only: everything else lets it be drawn here.
        with self._lock:
            version = self.active_version()
            aead = self._aead(version)
        nonce = os.urandom(12) if _nonce is None else _nonce
        return Wrapped(version, _WRAP_FORMAT + nonce + aead.encrypt(nonce, dek, _bind(aad, version)))

    def unwrap(self, kek_version: int, blob: bytes, aad: bytes) -> bytes:
        with self._lock:
            self._refresh()
            aead = self._aead(kek_version)
        if blob[:1] != _WRAP_FORMAT or len(blob) < 29:
            raise TamperedCiphertext("wrapped data key is malformed")
        try:
            return aead.decrypt(blob[1:13], blob[13:], _bind(aad, kek_version))
        except InvalidTag:
            raise TamperedCiphertext("wrapped data key failed authentication") from None

    def _aead(self, version: int) -> AESGCM:
        state = self._states.get(version)
        if state is None:
            raise UnknownKeyVersion(f"no key-encryption key v{version}")
        if state is KekState.RETIRED:
            raise KeyRetired(version)
        aead = self._aeads.get(version)
        if aead is None:
            path = _keyfiles.key_path(self._dir, KEK_STEM, version)
            if not path.exists():
                raise UnknownKeyVersion(f"key-encryption key v{version} has no material ({path.name} is missing)")
            aead = self._aeads[version] = AESGCM(_keyfiles.read_private(path))
        return aead

    def _refresh(self) -> None:
        """Reload the state file if another process (or this one) changed it."""
        if self._read_only:
            return
        try:
            info = os.stat(self._state_path)  # a str path: this runs for every key wrapped
        except FileNotFoundError:
            self._states, self._stamp = {}, None
            return
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)  # a replace always changes the inode
        if stamp != self._stamp:
            raw = json.loads(Path(self._state_path).read_text())
            self._states = {int(v): KekState(s) for v, s in raw["versions"].items()}
            self._stamp = stamp
            self._aeads = {v: a for v, a in self._aeads.items() if self._states.get(v) is not KekState.RETIRED}

    # -- changing ------------------------------------------------------------------------

    def create_version(self) -> int:
        with self._mutating() as states:
            version = max(states, default=0) + 1
            _keyfiles.write_new(self._dir, KEK_STEM, version, secrets.token_bytes(32))
            for v, s in states.items():
                if s is KekState.ACTIVE:
                    states[v] = KekState.ENABLED
            states[version] = KekState.ACTIVE
        return version

    def retire_version(self, version: int) -> None:
        with self._mutating() as states:
            if version not in states:
                raise UnknownKeyVersion(f"no key-encryption key v{version}")
            if states[version] is KekState.ACTIVE:
                raise KeyStillInUse(version, 1, "it is the active version: rotate first")
            states[version] = KekState.RETIRED

    def delete_version(self, version: int) -> None:
        with self._mutating() as states:
            if states.get(version) is not KekState.RETIRED:
                raise KeyStillInUse(version, 1, "it is not retired: retire it first")
            path = _keyfiles.key_path(self._dir, KEK_STEM, version)
            if path.exists():
                _keyfiles.erase(path)
            self._aeads.pop(version, None)

    @contextlib.contextmanager
    def _mutating(self) -> Iterator[dict[int, KekState]]:
        """Read-modify-write of the state file under a thread lock and a file lock."""
        if self._read_only:
            raise KeyProviderReadOnly(f"keys in {self._dir} are mounted read-only: change them at the source")
        with self._lock, _flock(self._dir / "kek-state.lock"):
            self._stamp = None
            self._refresh()
            states = dict(self._states)
            yield states
            _write_state(self._dir, states)
            self._refresh()

    def __repr__(self) -> str:
        mode = "read-only " if self._read_only else ""
        return f"LocalKeyProvider({mode}{self._dir}, versions={sorted(self._states)})"


def _bind(aad: bytes, kek_version: int) -> bytes:
    return aad + kek_version.to_bytes(4, "big")


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=_keyfiles.DIR_MODE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, _keyfiles.KEY_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_state(directory: Path, states: dict[int, KekState]) -> None:
    """Atomic replace, so a reader never sees half a file."""
    body = json.dumps({"format": 1, "versions": {str(v): s.value for v, s in sorted(states.items())}}, indent=1)
    tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _keyfiles.KEY_MODE)
    with os.fdopen(fd, "w") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, directory / STATE_FILE)


def generate_local_keys(directory: Path) -> list[Path]:
    """Create the demo's local keys if missing: KEK v1 and blind-index key v1. Idempotent."""
    directory = Path(directory)
    created: list[Path] = []
    with _flock(directory / "kek-state.lock"):
        if not (directory / STATE_FILE).exists():
            if not _keyfiles.versions(directory, KEK_STEM):
                created.append(_keyfiles.write_new(directory, KEK_STEM, 1, secrets.token_bytes(32)))
            found = sorted(_keyfiles.versions(directory, KEK_STEM))
            _write_state(directory, {v: KekState.ACTIVE if v == found[-1] else KekState.ENABLED for v in found})
    if not _keyfiles.versions(directory, _keyfiles.INDEX_STEM):
        created.append(_keyfiles.write_new(directory, _keyfiles.INDEX_STEM, 1, secrets.token_bytes(32)))
    return created
