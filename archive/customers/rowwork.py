"""The per-row work of an import that needs the row and the keys but not the database, done a
part of the file at a time (the importer checks and writes each part before the next).

For each row: parse and check its values, blind-index its identifiers, fingerprint it (so a
re-import is recognised), key an enterprise's or institution's name for the fuzzy check — and,
if the row is clean, give it a fresh id and data key (wrapped as it will be stored) and seal its
sensitive fields. A row that turns out to be a re-import, or a file that is refused, just drops
what was sealed for it: nothing is stored until the checks pass, and the open data keys live
only as long as one part's sealing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from archive.customers.intake import NOT_COMPARABLE, PUBLIC_NAME_KINDS, company_key
from archive.customers.models import INDEXED_FIELDS
from archive.customers.service import NewCustomer, index_kind, seal_columns
from archive.customers.validation import parse_new_customer
from archive.db import new_id
from crypto.blind_index import IndexKind, PinnedIndex
from crypto.dek import Dek
from crypto.envelope import NONCE_BYTES, FieldCipher
from crypto.keyring import KeyRing

PART = 500  # rows per part: one register query and two bulk inserts each
_INDEX_KINDS = {f: index_kind(f) for f in INDEXED_FIELDS}
Rows = Sequence[tuple[int, Mapping[str, str]]]  # (line, values by column)


@dataclass(frozen=True, slots=True)
class Keys:
    index: PinnedIndex  # the blind-index keys, looked at once for the whole file
    ring: KeyRing
    header: tuple[str, ...]


@dataclass(slots=True)
class Worked:
    """One row after the per-row work."""

    line: int
    code: str | None  # None: the row did not split into the columns
    problems: list[tuple[str, str]]  # (column, message)
    new: NewCustomer | None = None
    fingerprint: str = ""
    indexes: dict[str, list[str]] | None = None  # field -> blind-index candidates
    name_key: str | None = None  # an enterprise's or institution's name as compared
    customer_id: uuid.UUID | None = None  # a clean row: its fresh id, wrapped data key, sealed columns
    wrapped_key: bytes | None = None
    kek_version: int = 0
    sealed: dict[str, object] | None = None


def parts(rows: Rows) -> Iterator[Rows]:
    for start in range(0, len(rows), PART):
        yield rows[start:start + PART]


def canonical(raw: Mapping[str, str], header: Sequence[str]) -> str:
    """The row's values except its code, in header order: the same row gives the same text."""
    return "\x1f".join([raw.get(c, "") for c in header if c != "code"])


def work(keys: Keys, rows: Rows) -> list[Worked]:
    out: list[Worked] = []
    clean: list[Worked] = []
    today = date.today()
    for line, raw in rows:
        if "__extra__" in raw:
            out.append(Worked(line, None, [("", "more values than columns")]))
            continue
        new, errors = parse_new_customer(raw, today=today)
        item = Worked(line, raw.get("code", ""), [(e.field, e.message) for e in errors], new)
        out.append(item)
        if new is None or not item.code:
            continue
        public = new.kind in PUBLIC_NAME_KINDS  # its name is compared in clear, not indexed
        values = {"name": None if public else new.name, **new.sensitive}
        hexes = keys.index.hex_candidates
        item.indexes = {f: hexes(_INDEX_KINDS[f], value) for f in INDEXED_FIELDS if (value := values.get(f))}
        item.problems += [(f, NOT_COMPARABLE if f == "name" else "nothing left to compare once normalised")
                          for f, hexes in item.indexes.items() if not hexes]
        item.fingerprint = keys.index.compute(IndexKind.RECORD, canonical(raw, keys.header)).hex()
        item.name_key = company_key(new.name) if public else None
        if public and not item.name_key:
            item.problems.append(("name", NOT_COMPARABLE))
        if not item.problems:
            clean.append(item)
    _seal(keys, clean)
    return out


def _seal(keys: Keys, items: list[Worked]) -> None:
    if not items:
        return
    ids = [new_id() for _ in items]
    made = keys.ring.prepare_deks(ids, cache=False)  # stored by the importer, with the rows, or never
    cipher = FieldCipher(_Fresh({dek.customer_id: dek for _, dek in made}))
    # Only the values there are: each one sealed uses exactly its own 12 bytes of the draw below.
    values = [{f: v for f, v in {"name": item.new.name, **item.new.sensitive}.items() if v is not None}
              for item in items if item.new is not None]
    # The part's field nonces in one draw from the OS (a system call per row costs more than
    # sealing a field), each 12-byte slice used once.
    random = os.urandom(NONCE_BYTES * sum(map(len, values)))
    at = 0
    for item, customer_id, (wrapped, _), fields in zip(items, ids, made, values, strict=True):
        assert item.new is not None
        item.customer_id, item.wrapped_key, item.kek_version = customer_id, wrapped.wrapped_key, wrapped.kek_version
        end = at + NONCE_BYTES * len(fields)
        item.sealed = seal_columns(cipher, keys.index, customer_id, item.new.kind, fields, item.indexes,
                                   name_key=item.name_key, nonces=random[at:end])
        at = end


class _Fresh:
    """Brand-new data keys, for sealing (no cache, no store round trip)."""

    def __init__(self, deks: dict[uuid.UUID, Dek]) -> None:
        self.deks = deks

    def dek_for_encrypt(self, customer_id: uuid.UUID) -> Dek:
        return self.deks[customer_id]

    def dek_for_decrypt(self, customer_id: uuid.UUID, dek_version: int) -> Dek:
        raise KeyError("fresh keys only seal")
