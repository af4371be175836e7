"""Versioned key files in a directory: `<stem>-v<N>.key`, mode 0600, in a 0700 directory.

Shared by the KEK provider, the blind-index keys and the signing keys. The naming matches
`archive/keyfiles.py`, so one `keys/` directory holds them all. Files are written once
(O_EXCL) and never rewritten: a new version is a new file.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from pathlib import Path

from crypto.errors import KeyFileError

KEK_STEM = "kek"  # key-encryption keys (crypto.keys)
INDEX_STEM = "blind-index"  # blind-index root keys (crypto.blind_index)
KEY_MODE = 0o600
DIR_MODE = 0o700


def key_path(directory: Path, stem: str, version: int) -> Path:
    return directory / f"{stem}-v{version}.key"


def versions(directory: Path, stem: str) -> dict[int, Path]:
    """Every `<stem>-v<N>.key` in the directory, by version."""
    pattern = re.compile(rf"^{re.escape(stem)}-v([1-9]\d*)\.key$")
    found: dict[int, Path] = {}
    if directory.is_dir():
        for path in directory.iterdir():
            if match := pattern.match(path.name):
                found[int(match.group(1))] = path
    return found


def write_new(directory: Path, stem: str, version: int, data: bytes) -> Path:
    """Create the key file exclusively with mode 0600 and flush it to disk."""
    directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    path = key_path(directory, stem, version)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return path


def read_private(path: Path) -> bytes:
    """Read a key file, refusing one that group or others may read or write."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path.name} has mode {stat.S_IMODE(mode):o}; key files must be 0600")
    return path.read_bytes()


def erase(path: Path) -> None:
    """Overwrite with zeros, then unlink. Best effort: SSDs and copy-on-write file systems
    may keep old blocks, so also destroy backups of the key directory (docs/crypto.md)."""
    size = path.stat().st_size
    with path.open("r+b") as out:
        out.write(b"\x00" * size)
        out.flush()
        os.fsync(out.fileno())
    path.unlink()


def secret_versions(directory: Path, stem: str) -> dict[int, bytes]:
    """Keys from a mounted-secrets directory (pydantic-settings `secrets_dir` style).

    One file per version, named `<stem>-v<N>`, `<stem>_v<N>` or `archive_<stem>_v<N>` (any
    case, `-` or `_` alike, optional `.key`); the content is 32 raw bytes, or their base64 or
    hex text.
    Such mounts are often mode 0644 and read-only, so permissions are not checked here.
    """
    name = re.escape(stem).replace("\\-", "[-_]")  # setting names spell "-" as "_"
    pattern = re.compile(rf"^(?:archive_)?{name}[-_]v([1-9]\d*)(?:\.key)?$", re.IGNORECASE)
    found: dict[int, bytes] = {}
    if directory.is_dir():
        for path in directory.iterdir():
            if path.is_file() and (match := pattern.match(path.name)):
                found[int(match.group(1))] = decode_secret(path.read_bytes(), path.name)
    return found


def decode_secret(raw: bytes, name: str, size: int = 32) -> bytes:
    """32 raw bytes as they are; otherwise stripped text in hex or base64."""
    if len(raw) == size:
        return raw
    text = raw.strip()
    for decode in (bytes.fromhex, _b64):
        try:
            value = decode(text.decode("ascii"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            continue
        if len(value) == size:
            return value
    raise KeyFileError(f"secret {name} is not {size} bytes (raw, hex or base64)")


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
