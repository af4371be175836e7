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

import operator
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from archive.customers.intake import NOT_COMPARABLE, PUBLIC_NAME_KINDS, company_key
from archive.customers.models import INDEXED_FIELDS
from archive.customers.service import NewCustomer, index_kind, sealed_column_names
from archive.customers.validation import parse_new_customers
from archive.db import Pending, new_id
from crypto.blind_index import IndexKind, PinnedIndex
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
    sealed: list[bytes | None] | None = None  # a value or None per column of `Sealing.sealed_columns`


def parts(rows: Rows) -> Iterator[Rows]:
    for start in range(0, len(rows), PART):
        yield rows[start:start + PART]


def canonical(raw: Mapping[str, str], header: Sequence[str]) -> str:
    """The row's values except its code, in header order: the same row gives the same text."""
    return "\x1f".join([raw.get(c, "") for c in header if c != "code"])


def _canonical_of(header: Sequence[str]) -> Callable[[Mapping[str, str]], str]:
    """`canonical` for one header, reading a row that holds every column in one C-level call."""
    columns = [c for c in header if c != "code"]
    if len(columns) < 2:
        return lambda raw: canonical(raw, header)
    pick = operator.itemgetter(*columns)

    def of(raw: Mapping[str, str]) -> str:
        try:
            return "\x1f".join(pick(raw))
        except KeyError:  # a row without some column (not from read_csv)
            return canonical(raw, header)

    return of


def work(keys: Keys, rows: Rows) -> tuple[list[Worked], Sealing]:
    """The part's rows worked, their sealing under way (`Sealing`)."""
    out: list[Worked] = []
    parsed: list[Worked] = []
    canonicals: list[str] = []
    canonical_of = _canonical_of(keys.header)
    today = date.today()
    extra = ["__extra__" in raw for _, raw in rows]  # a row that did not split into the columns
    results = iter(parse_new_customers([raw for (_, raw), bad in zip(rows, extra, strict=True) if not bad],
                                       today=today))
    for (line, raw), bad in zip(rows, extra, strict=True):
        if bad:
            out.append(Worked(line, None, [("", "more values than columns")]))
            continue
        new, errors = next(results)
        item = Worked(line, raw.get("code", ""), [(e.field, e.message) for e in errors], new)
        out.append(item)
        if new is not None and item.code:
            parsed.append(item)
            canonicals.append(canonical_of(raw))
    # The blind indexes a field at a time over the part: one call into C per field and key
    # version (crypto/_bulk.c) instead of a few Python calls per value.
    for item in parsed:
        item.indexes = {}
    for field in INDEXED_FIELDS:
        holders, values = [], []
        for item in parsed:
            new = item.new
            assert new is not None
            value = (None if new.kind in PUBLIC_NAME_KINDS else new.name) if field == "name" else \
                new.sensitive.get(field)
            if value:
                holders.append(item)
                values.append(value)
        for item, hexes in zip(holders, keys.index.hex_candidates_many(_INDEX_KINDS[field], values), strict=True):
            item.indexes[field] = hexes  # type: ignore[index]
    for item, fingerprint in zip(parsed, keys.index.hex_many(IndexKind.RECORD, canonicals), strict=True):
        assert item.new is not None
        assert item.indexes is not None
        item.problems += [(f, NOT_COMPARABLE if f == "name" else "nothing left to compare once normalised")
                          for f, hexes in item.indexes.items() if not hexes]
        item.fingerprint = fingerprint
        if item.new.kind in PUBLIC_NAME_KINDS:  # its name is compared in clear, not indexed
            item.name_key = company_key(item.new.name)
            if not item.name_key:
                item.problems.append(("name", NOT_COMPARABLE))
    return out, Sealing(keys, [item for item in parsed if not item.problems])


class Sealing:
    """Fresh ids and data keys for a part's clean rows, and their fields sealed under them, in
    one call (`KeyRing.seal_with_new_deks`) run by a background thread: its C code lets go of
    the GIL (crypto/_bulk.c), so the part is sealed while the importer checks it. `finish`
    waits for it and gives each row its columns; the importer calls it before writing the part,
    or on its way out of a failure (nothing sealed is kept then)."""

    def __init__(self, keys: Keys, items: list[Worked]) -> None:
        self.items = items
        self.keys = keys
        news = [item.new for item in items if item.new is not None]
        self.columns = ("name", *sorted({f for new in news for f, v in new.sensitive.items() if v is not None}))
        rest = self.columns[1:]
        self.values: list[tuple[bytes | str | None, ...]] = [(new.name, *map(new.sensitive.get, rest))
                                                            for new in news]
        self.ids = [new_id() for _ in items]
        self.result: tuple[list[tuple[bytes, int]], list[list[bytes | None]]] | None = None
        self.pending = Pending(self._seal, name="import-sealing") if items else Pending()

    def _seal(self) -> None:
        self.result = self.keys.ring.seal_with_new_deks("customers", self.columns, self.ids, self.values)

    def finish(self) -> None:
        self.pending.wait()
        if not self.items:
            return
        assert self.result is not None
        wrapped, sealed = self.result
        self.result = None
        for item, customer_id, (key, kek_version), row in zip(self.items, self.ids, wrapped, sealed, strict=True):
            item.customer_id, item.wrapped_key, item.kek_version, item.sealed = customer_id, key, kek_version, row

    @property
    def sealed_columns(self) -> list[str]:
        """The columns each clean row's `Worked.sealed` holds a value (or None) for."""
        return sealed_column_names(self.columns)
