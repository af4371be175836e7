"""Chokepoints checked by reading the code, the second line behind construction (STYLE.md
items 4 and 8; issue 26). The first line is that what decrypts takes a `Grant` only the gate
can mint, and that only the unit of work commits; this lint fails on code that tries another
way however it is spelled: attribute names are read from the syntax tree (a renamed session
still calls `.commit`), names built at run time (`getattr(x, "phone" + "_ct")`) are refused
outright outside the places that may open plaintext, and so is SQL text that commits.

The probes at the bottom are what an outside security review wrote to get past the old regular
expressions; each must fail this lint.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("archive", "service", "audit", "crypto")

# --- what counts as an offence -----------------------------------------------------------------
TRANSACTION_ATTRS = frozenset({"commit", "begin", "begin_nested", "commit_prepared", "begin_twophase"})
SQL_TRANSACTION = re.compile(
    r"^\s*(COMMIT|END|BEGIN|START\s+TRANSACTION|RELEASE\s+SAVEPOINT|SAVEPOINT)"
    r"(\s+(TRANSACTION|WORK|IMMEDIATE|EXCLUSIVE|DEFERRED|\w+))?\s*;?\s*$", re.IGNORECASE)
# Reaching plaintext or a key: opening, unwrapping, the AEAD objects themselves, minting grants.
# (Re-sealing and re-wrapping take a grant and hand out only ciphertext: not listed.)
DECRYPT_ATTRS = frozenset({
    "decrypt", "dek_for_decrypt", "unwrap", "_unwrap", "aead", "_aead", "mint", "trust", "field_key", "_blob_root",
})
DECRYPT_NAMES = frozenset({"decrypt", "dek_for_decrypt", "aead", "_aead", "mint", "_unwrap"})
SEALED_COLUMN = re.compile(r"_ct$")
DYNAMIC_ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "delattr", "attrgetter", "methodcaller"})

# --- where each is allowed ---------------------------------------------------------------------
COMMIT_ALLOWED_FILES = ("archive/db.py", "archive/migrations/")
COMMIT_ALLOWED_FUNCTIONS = {("audit/chain.py", "_sequencer_transaction")}  # the sequencer's batch
DECRYPT_ALLOWED = ("crypto/", "archive/gate/")
# A name built at run time for getattr/setattr: only where sealed columns may be named anyway,
# and in the settings (which walk their own sections by name).
DYNAMIC_ALLOWED = ("archive/settings.py",)
# Sealed columns are named by the models that declare them, the registry that seals them and
# copies ciphertext into the correction history (still sealed), and the gate, which opens them.
SEALED_ALLOWED = ("archive/customers/models.py", "archive/customers/registry.py", "archive/customers/service.py",
                  "archive/customers/repository.py", "archive/customers/importing.py", "archive/gate/",
                  "archive/migrations/", "crypto/")


@dataclass(frozen=True)
class Offence:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _allowed(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in prefixes)


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.functions: list[str] = []
        self.offences: list[Offence] = []

    def _flag(self, node: ast.AST, what: str) -> None:
        self.offences.append(Offence(self.path, getattr(node, "lineno", 0), what))

    def _may_commit(self) -> bool:
        if _allowed(self.path, COMMIT_ALLOWED_FILES):
            return True
        return any((self.path, name) in COMMIT_ALLOWED_FUNCTIONS for name in self.functions)

    def _may_decrypt(self) -> bool:
        return _allowed(self.path, DECRYPT_ALLOWED)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815 (ast.NodeVisitor dispatches on this name)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in TRANSACTION_ATTRS and not self._may_commit():
            self._flag(node, f"transaction control `.{node.attr}` outside the unit of work")
        if node.attr in DECRYPT_ATTRS and not self._may_decrypt():
            self._flag(node, f"`.{node.attr}` (plaintext, keys or grants) outside the gate and crypto/")
        if SEALED_COLUMN.search(node.attr) and not _allowed(self.path, SEALED_ALLOWED):
            self._flag(node, f"sealed column `.{node.attr}` read outside the gate and the registry")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else (
            node.func.attr if isinstance(node.func, ast.Attribute) else "")
        if name in DYNAMIC_ATTRIBUTE_CALLS and len(node.args) >= (1 if name in ("attrgetter", "methodcaller") else 2):
            target = node.args[0] if name in ("attrgetter", "methodcaller") else node.args[1]
            if not isinstance(target, ast.Constant) and not _allowed(self.path, SEALED_ALLOWED + DYNAMIC_ALLOWED):
                self._flag(node, f"`{name}` with a name built at run time (it could reach a sealed column, "
                                 "a key or a commit)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            text = node.value
            if text in TRANSACTION_ATTRS and not self._may_commit():
                self._flag(node, f"the name {text!r} as a string (a commit spelled another way)")
            if SQL_TRANSACTION.match(text) and not self._may_commit():
                self._flag(node, "SQL that controls the transaction outside the unit of work")
            if text in DECRYPT_NAMES and not self._may_decrypt():
                self._flag(node, f"the name {text!r} as a string (decryption spelled another way)")
            if SEALED_COLUMN.search(text) and not _allowed(self.path, SEALED_ALLOWED):
                self._flag(node, f"a sealed column's name {text!r} outside the gate and the registry")
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        # f"{name}_ct": the tail of a built-up sealed-column name
        tail = node.values[-1] if node.values else None
        if (isinstance(tail, ast.Constant) and isinstance(tail.value, str) and SEALED_COLUMN.search(tail.value)
                and not _allowed(self.path, SEALED_ALLOWED)):
            self._flag(node, "a sealed column's name built at run time outside the gate and the registry")
        self.generic_visit(node)


def lint(path: str, source: str) -> list[Offence]:
    scanner = _Scanner(path)
    scanner.visit(ast.parse(source, filename=path))
    return scanner.offences


def sources() -> Iterator[tuple[str, str]]:
    for package in PRODUCT:
        for file in sorted((ROOT / package).rglob("*.py")):
            yield file.relative_to(ROOT).as_posix(), file.read_text()


def test_the_product_passes_the_lint() -> None:
    offences = [str(o) for path, text in sources() for o in lint(path, text)]
    assert offences == [], "\n".join(offences)


# --- the probes: each must fail the lint ------------------------------------------------------
PROBE_SEALED_BY_BUILT_NAME = '''
def peek(customer, ring):
    column = "ph" + "one" + "_c" + "t"
    sealed = getattr(customer, column)
    dek = ring.dek_for_decrypt(customer.id, int.from_bytes(sealed[1:5], "big"))
    return dek.aead.decrypt(sealed[9:21], sealed[21:], None)
'''

PROBE_SEALED_BY_FSTRING = '''
def peek(customer, keys, name):
    sealed = customer.__dict__[f"{name}_ct"]
    opener = keys.dek_for_decrypt
    return opener(customer.id, 1)
'''

PROBE_RENAMED_SESSION = '''
def sneak(uow, row):
    db = uow.session
    db.add(row)
    persist = db.commit
    persist()
'''

PROBE_COMMIT_BY_NAME = '''
def sneak(thing):
    getattr(thing, "com" + "mit")()
'''

PROBE_COMMIT_BY_SQL = '''
from sqlalchemy import text

def sneak(connection):
    connection.execute(text("COMMIT"))
'''


@pytest.mark.parametrize("probe", [PROBE_SEALED_BY_BUILT_NAME, PROBE_SEALED_BY_FSTRING, PROBE_RENAMED_SESSION,
                                   PROBE_COMMIT_BY_NAME, PROBE_COMMIT_BY_SQL],
                         ids=["sealed-column-by-built-name", "sealed-column-by-fstring", "renamed-session",
                              "commit-by-getattr", "commit-by-sql"])
def test_the_lint_fails_each_probe_placed_in_a_service(probe: str) -> None:
    assert lint("archive/customers/reports.py", probe)
    assert lint("service/routers/probe.py", probe)


def test_the_old_spellings_still_fail() -> None:
    assert lint("archive/x.py", "def f(s):\n    s.commit()\n")
    assert lint("service/x.py", "def f(uow):\n    uow.commit()\n")
    assert lint("archive/x.py", "def f(c, ctx, v):\n    return c.decrypt(ctx, v)\n")
    assert lint("archive/x.py", "def f(e):\n    with e.begin() as c:\n        pass\n")


def test_the_allowed_places_are_narrow() -> None:
    assert not lint("archive/db.py", "def f(s):\n    s.commit()\n")
    assert not lint("archive/gate/core.py", "def f(c, g, ctx, v):\n    return c.decrypt(g, ctx, v)\n")
    assert not lint("audit/chain.py", "def _sequencer_transaction(c):\n    c.begin()\n")
    assert lint("audit/chain.py", "def other(c):\n    c.begin()\n")
    assert lint("audit/log.py", "def _sequencer_transaction(c):\n    c.begin()\n")
