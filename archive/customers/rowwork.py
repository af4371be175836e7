"""The CPU half of an import: the work on each row that needs the row and the keys but not the
database. A large file spreads it over worker processes, part by part, while the main process
checks and writes the parts already done (the database work, in the import's one transaction).

For each row: parse and check its values, blind-index its identifiers, fingerprint it (so a
re-import is recognised), key an enterprise's or institution's name for the fuzzy check — and,
if the row is clean, give it a fresh id and data key (wrapped as it will be stored) and seal its
sensitive fields. A row that turns out to be a re-import, or a file that is refused, just
drops what was sealed for it: nothing is stored until the checks pass.

Only problems, blind indexes, wrapped keys and ciphertext come back from a worker, with the
row's values for the checks; the open data keys never leave it, and the plaintext rows reach it
over a pipe, never the disk. Workers are forked, so they inherit the keys this process has
loaded instead of being sent them. A fork copies only the calling thread, and locks that other
threads hold stay locked in the child, so a process with other threads running (the web server)
does the work in-process instead.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.pool import Pool
from typing import Any, NamedTuple

from archive.customers.intake import PUBLIC_NAME_KINDS, company_key, index_candidates
from archive.customers.models import INDEXED_FIELDS
from archive.customers.service import NewCustomer, index_kind, seal_columns
from archive.customers.validation import parse_new_customer
from archive.db import new_id
from crypto.blind_index import IndexKind, PinnedIndex
from crypto.dek import Dek
from crypto.envelope import FieldCipher
from crypto.keyring import KeyRing

CHUNK = 250  # rows per task: a round trip is amortised, and results stream back while others run
MIN_ROWS_FOR_WORKERS = 1000  # below this, starting workers costs more than they save
_INDEX_KINDS = {f: index_kind(f) for f in INDEXED_FIELDS}


def canonical(raw: Mapping[str, str], header: Sequence[str]) -> str:
    """The row's values except its code, in header order: the same row gives the same text."""
    return "\x1f".join([raw.get(c, "") for c in header if c != "code"])


class Worked(NamedTuple):
    """One row after the CPU work, in a form that crosses a pipe cheaply (plain values)."""

    line: int
    code: str | None  # None: the row did not split into the columns
    problems: tuple[tuple[str, str], ...]  # (column, message)
    new: tuple[Any, ...] | None = None  # NewCustomer's fields, in order
    fingerprint: str = ""
    indexes: dict[str, list[str]] | None = None  # field -> blind-index candidates
    name_key: str | None = None  # an enterprise's or institution's name as compared
    customer_id: bytes | None = None  # a clean row: its fresh id, wrapped data key and sealed columns
    wrapped_key: bytes | None = None
    kek_version: int = 0
    sealed: dict[str, object] | None = None

    def customer(self) -> NewCustomer | None:
        return None if self.new is None else NewCustomer(*self.new)


@dataclass(frozen=True, slots=True)
class Keys:
    index: PinnedIndex
    ring: KeyRing
    header: tuple[str, ...]


def work(keys: Keys, rows: Sequence[tuple[int, Mapping[str, str]]]) -> list[Worked]:
    checked: list[tuple[int, str, tuple[tuple[str, str], ...], NewCustomer, str, dict[str, list[str]],
                        str | None]] = []
    out: list[Worked | None] = []
    for line, raw in rows:
        if "__extra__" in raw:
            out.append(Worked(line, None, (("", "more values than columns"),)))
            continue
        new, errors = parse_new_customer(raw)
        code = raw.get("code", "")
        problems = tuple((e.field, e.message) for e in errors)
        if new is None or not code:
            out.append(Worked(line, code, problems))
            continue
        public = new.kind in PUBLIC_NAME_KINDS  # its name is compared in clear, not indexed
        values = {"name": None if public else new.name, **new.sensitive}
        indexes = {f: index_candidates(keys.index, _INDEX_KINDS[f], value)
                   for f in INDEXED_FIELDS if (value := values.get(f))}
        problems += tuple((f, "nothing left to compare once normalised") for f, hexes in indexes.items() if not hexes)
        fingerprint = keys.index.compute(IndexKind.RECORD, canonical(raw, keys.header)).hex()
        checked.append((len(out), code, problems, new, fingerprint, indexes,
                        company_key(new.name) if public else None))
        out.append(None)
    clean = [c for c in checked if not c[2]]
    ids = [new_id() for _ in clean]
    made = keys.ring.prepare_deks(ids, cache=False) if clean else []
    cipher = FieldCipher(_Fresh({dek.customer_id: dek for _, dek in made}))
    sealed = {}
    for (at, _, _, new, _, indexes, name_key), customer_id, (wrapped, _) in zip(clean, ids, made, strict=True):
        sealed[at] = (customer_id.bytes, wrapped.wrapped_key, wrapped.kek_version,
                      seal_columns(cipher, keys.index, customer_id, new.kind, {"name": new.name, **new.sensitive},
                                   indexes, name_key=name_key))
    for at, code, problems, new, fingerprint, indexes, name_key in checked:
        fields = (new.kind, new.name, new.code, new.department, new.owner, new.status, dict(new.profile),
                  dict(new.sensitive))
        out[at] = Worked(rows[at][0], code, problems, fields, fingerprint, indexes, name_key,
                         *sealed.get(at, (None, None, 0, None)))
    return [w for w in out if w is not None]


class _Fresh:
    """Brand-new data keys, for sealing (no cache, no store round trip)."""

    def __init__(self, deks: dict[uuid.UUID, Dek]) -> None:
        self.deks = deks

    def dek_for_encrypt(self, customer_id: uuid.UUID) -> Dek:
        return self.deks[customer_id]

    def dek_for_decrypt(self, customer_id: uuid.UUID, dek_version: int) -> Dek:
        raise KeyError("fresh keys only seal")


# -- running the stages ---------------------------------------------------------------------

_worker_keys: Keys | None = None  # in a worker process: the keys it inherited


def _install(keys: Keys) -> None:
    global _worker_keys
    _worker_keys = keys


def _work_task(rows: Sequence[tuple[int, Mapping[str, str]]]) -> list[Worked]:
    assert _worker_keys is not None
    return work(_worker_keys, rows)


def worker_count(rows: int, wanted: int | None = None) -> int:
    """How many worker processes an import of `rows` rows uses: none for a small file, on a
    platform without fork, or in a process with other threads running."""
    if wanted is None:
        wanted = os.cpu_count() or 1
    if wanted <= 0 or rows < MIN_ROWS_FOR_WORKERS or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if threading.active_count() > 1:
        return 0
    return wanted


class RowWork:
    """Both stages over a whole file, in `workers` forked processes (0: in this one). Use as a
    context manager: the workers stop when the import ends, whichever way it ends."""

    def __init__(self, keys: Keys, *, workers: int = 0) -> None:
        self.keys = keys
        self.workers = workers
        self._pool: Pool | None = None

    def __enter__(self) -> RowWork:
        if self.workers:
            self._pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_install,
                                                                  initargs=(self.keys,))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()  # nothing is left to do, or the import failed: stop at once
            self._pool.join()
            self._pool = None

    def results(self, rows: Sequence[tuple[int, Mapping[str, str]]]) -> Iterator[list[Worked]]:
        """The rows worked, part by part and in order: the caller checks and writes one part
        while the workers do the next."""
        parts = [rows[start:start + CHUNK] for start in range(0, len(rows), CHUNK)]
        if self._pool is None:
            return (work(self.keys, part) for part in parts)
        return self._pool.imap(_work_task, parts)
