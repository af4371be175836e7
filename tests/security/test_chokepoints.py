"""Chokepoints enforced by reading the code (STYLE.md items 4 and 8): plaintext comes out of
`crypto/` only in the gate, and only the unit of work (or the gate) commits."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("archive", "service", "audit")
DECRYPT = re.compile(r"\.decrypt\(|from crypto\.(envelope|streaming) import[^\n]*\bdecrypt\b")
COMMIT = re.compile(r"\b(session|self\.session|uow\.session)\.commit\(\)")
DECRYPT_ALLOWED = {"archive/gate.py"}
COMMIT_ALLOWED = {"archive/db.py", "archive/gate.py"}


def sources():
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text()


def test_nothing_outside_the_gate_and_crypto_decrypts():
    offenders = [name for name, text in sources() if DECRYPT.search(text) and name not in DECRYPT_ALLOWED]
    assert offenders == []


def test_only_the_unit_of_work_and_the_gate_commit_sessions():
    offenders = [name for name, text in sources() if COMMIT.search(text) and name not in COMMIT_ALLOWED]
    assert offenders == []


def test_the_lint_itself_catches_offences():
    assert DECRYPT.search("value = cipher.decrypt(ctx, sealed)")
    assert DECRYPT.search("from crypto.envelope import decrypt, seal")
    assert COMMIT.search("    self.session.commit()")
    assert not COMMIT.search("    uow.commit()")
