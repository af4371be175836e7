"""The local KEK provider: files, states, rotation, retirement, deletion, mounted secrets."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from crypto.errors import (
    KeyFileError,
    KeyProviderReadOnly,
    KeyRetired,
    KeyStillInUse,
    KeyUnavailable,
    TamperedCiphertext,
    UnknownKeyVersion,
)
from crypto.keys import KekState, LocalKeyProvider, generate_local_keys

AAD = b"customer-1/dek-1"


def provider(tmp_path: Path) -> LocalKeyProvider:
    generate_local_keys(tmp_path / "keys")
    return LocalKeyProvider(tmp_path / "keys")


def test_generated_keys_are_private_files(tmp_path: Path) -> None:
    created = generate_local_keys(tmp_path / "keys")
    assert sorted(p.name for p in created) == ["blind-index-v1.key", "kek-v1.key"]
    for path in created:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(path.read_bytes()) == 32
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert generate_local_keys(tmp_path / "keys") == []  # idempotent


def test_wrap_round_trip_binds_the_aad_and_version(tmp_path: Path) -> None:
    keks = provider(tmp_path)
    wrapped = keks.wrap(b"k" * 32, AAD)
    assert wrapped.kek_version == 1
    assert keks.unwrap(1, wrapped.blob, AAD) == b"k" * 32
    with pytest.raises(TamperedCiphertext):
        keks.unwrap(1, wrapped.blob, b"customer-2/dek-1")
    damaged = bytearray(wrapped.blob)
    damaged[-1] ^= 1
    with pytest.raises(TamperedCiphertext):
        keks.unwrap(1, bytes(damaged), AAD)
    with pytest.raises(UnknownKeyVersion):
        keks.unwrap(7, wrapped.blob, AAD)


def test_rotate_retire_delete(tmp_path: Path) -> None:
    keks = provider(tmp_path)
    old = keks.wrap(b"k" * 32, AAD)
    assert keks.create_version() == 2
    assert keks.active_version() == 2
    assert [(v.version, v.state) for v in keks.versions()] == [(1, KekState.ENABLED), (2, KekState.ACTIVE)]
    assert keks.unwrap(1, old.blob, AAD) == b"k" * 32  # enabled: still unwraps
    assert keks.wrap(b"k" * 32, AAD).kek_version == 2
    with pytest.raises(KeyStillInUse, match="active"):
        keks.retire_version(2)
    with pytest.raises(KeyStillInUse, match="not retired"):
        keks.delete_version(1)
    keks.retire_version(1)
    with pytest.raises(KeyRetired):
        keks.unwrap(1, old.blob, AAD)
    keks.delete_version(1)
    assert not (tmp_path / "keys" / "kek-v1.key").exists()
    assert [(v.version, v.has_material) for v in keks.versions()] == [(1, False), (2, True)]
    with pytest.raises(KeyRetired):  # a deleted key stays retired, never "unknown"
        keks.unwrap(1, old.blob, AAD)
    assert keks.create_version() == 3  # versions are never reused


def test_other_processes_see_changes(tmp_path: Path) -> None:
    first = provider(tmp_path)
    second = LocalKeyProvider(tmp_path / "keys")
    wrapped = first.wrap(b"k" * 32, AAD)
    first.create_version()
    assert second.active_version() == 2
    first.retire_version(1)
    with pytest.raises(KeyRetired):
        second.unwrap(1, wrapped.blob, AAD)
    state = json.loads((tmp_path / "keys" / "kek-state.json").read_text())
    assert state["versions"] == {"1": "retired", "2": "active"}


def test_missing_material_is_named(tmp_path: Path) -> None:
    keks = provider(tmp_path)
    wrapped = keks.wrap(b"k" * 32, AAD)
    keks.create_version()
    fresh = LocalKeyProvider(tmp_path / "keys")
    (tmp_path / "keys" / "kek-v1.key").unlink()
    with pytest.raises(UnknownKeyVersion, match="missing"):
        fresh.unwrap(1, wrapped.blob, AAD)


def test_group_readable_key_files_are_refused(tmp_path: Path) -> None:
    keks = provider(tmp_path)
    wrapped = keks.wrap(b"k" * 32, AAD)
    os.chmod(tmp_path / "keys" / "kek-v1.key", 0o644)
    with pytest.raises(KeyFileError, match="0600"):
        LocalKeyProvider(tmp_path / "keys").unwrap(1, wrapped.blob, AAD)


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailable, match="generate_local_keys"):
        LocalKeyProvider(tmp_path)


def test_secrets_dir_is_read_only(tmp_path: Path) -> None:
    mounted = tmp_path / "secrets"
    mounted.mkdir()
    raw = os.urandom(32)
    (mounted / "archive_kek_v1").write_bytes(raw)
    (mounted / "ARCHIVE_KEK_V2").write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    (mounted / "kek-v3.key").write_text(os.urandom(32).hex())
    (mounted / "archive_jwt_secret").write_text("unrelated")
    keks = LocalKeyProvider.from_secrets_dir(mounted)
    assert keks.active_version() == 3
    assert [v.state for v in keks.versions()] == [KekState.ENABLED, KekState.ENABLED, KekState.ACTIVE]
    wrapped = keks.wrap(b"k" * 32, AAD)
    assert keks.unwrap(3, wrapped.blob, AAD) == b"k" * 32
    assert LocalKeyProvider.from_secrets_dir(mounted, active=1).wrap(b"k" * 32, AAD).kek_version == 1
    for change in (keks.create_version, lambda: keks.retire_version(1), lambda: keks.delete_version(1)):
        with pytest.raises(KeyProviderReadOnly):
            change()
    (mounted / "archive_kek_v4").write_text("too short")
    with pytest.raises(KeyFileError, match="32 bytes"):
        LocalKeyProvider.from_secrets_dir(mounted)
