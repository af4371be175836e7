"""Chokepoints enforced by reading the code (STYLE.md items 4 and 8): plaintext comes out of
`crypto/` only in the gate, and only the unit of work (or the gate) commits."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("archive", "service", "audit")
DECRYPT = re.compile(r"\.decrypt\(|from crypto\.(envelope|streaming) import[^\n]*\bdecrypt\b")
COMMIT = re.compile(r"\b(session|self\.session|uow\.session)\.commit\(\)")
DECRYPT_ALLOWED = {"archive/gate/core.py", "archive/gate/documents.py"}  # fields, document content
COMMIT_ALLOWED = {"archive/db.py", "archive/gate/core.py", "archive/gate/documents.py"}


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


SEALED_COLUMN = re.compile(r"""_ct\b|_ct["']""")
# Where sealed columns may be named: the models that declare them, the registry that seals them
# (and copies the previous ciphertext into the correction history, still sealed), and the gate,
# the one reader, which opens them only against a Grant.
SEALED_ALLOWED = {"archive/customers/models.py", "archive/customers/service.py", "archive/gate/core.py"}


def test_sealed_columns_are_read_only_by_the_gate():
    offenders = [name for name, text in sources() if SEALED_COLUMN.search(text) and name not in SEALED_ALLOWED
                 and not name.startswith("archive/migrations/")]
    assert offenders == []
    assert SEALED_COLUMN.search('value = getattr(customer, f"{name}_ct")')
    assert SEALED_COLUMN.search("customer.phone_ct")


def test_the_gate_renders_only_against_a_grant_it_minted():
    import inspect

    from archive.gate.core import GateCore

    render = inspect.getsource(GateCore.render)
    assert "_MINT" in render and "grant.customer_ids" in render
    reads = [line for line in inspect.getsource(GateCore).splitlines() if "_ct\")" in line or "_ct')" in line]
    assert len(reads) == 1  # the one read of a sealed column, inside render
