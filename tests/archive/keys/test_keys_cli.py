"""`archive keys rotate|rewrap|retire|status` on a real data directory, with data keys that
must still open afterwards; each key operation is audited."""

from __future__ import annotations

import uuid

import pytest

from archive.datakeys import SqlKeyStore
from archive.db import make_engine
from crypto.envelope import FieldCipher, FieldContext
from crypto.keyring import KeyRing
from crypto.keys import LocalKeyProvider
from tests.crypto.helpers import ANY, trusted
from tests.processes import env_with, run

pytestmark = pytest.mark.slow


def test_rotate_rewrap_retire_keeps_every_value_readable(tmp_path):
    data = tmp_path / "data"
    env = env_with(ARCHIVE_DATA_DIR=str(data), ARCHIVE_DEMO_PASSWORD="demo-password-for-tests",
                   ARCHIVE_ENV="development")
    env.pop("ARCHIVE_DATABASE_URL", None)
    assert run("demo", "--no-serve", env=env).returncode == 0
    assert run("keys", "status", env=env).returncode == 0
    engine = make_engine(f"sqlite:///{data / 'archive.db'}")
    ring = trusted(KeyRing(LocalKeyProvider(data / "keys"), SqlKeyStore(engine)))
    sealed = {}
    for _ in range(5):
        customer = uuid.uuid4()
        ctx = FieldContext("customers", "phone", customer, customer)
        sealed[ctx] = FieldCipher(ring).encrypt(ctx, b"13800138000")
    assert "still in use" in run("keys", "retire", "1", env=env).stderr  # the active KEK
    for command in (["keys", "rotate"], ["keys", "rewrap"], ["keys", "retire", "1"]):
        result = run(*command, env=env)
        assert result.returncode == 0, result.stderr
    fresh = trusted(KeyRing(LocalKeyProvider(data / "keys"), SqlKeyStore(engine)))
    assert fresh.status().pending_rewrap == 0
    assert all(FieldCipher(fresh).decrypt(ANY, ctx, value) == b"13800138000" for ctx, value in sealed.items())
    verified = run("audit", "verify", "--json", env=env)
    assert verified.returncode == 0 and '"ok": true' in verified.stdout
    with engine.connect() as conn:
        actions = {a for (a,) in conn.exec_driver_sql("SELECT action FROM audit_events").all()}
    assert {"key.rotated", "key.rewrapped", "key.retired"} <= actions
    engine.dispose()
