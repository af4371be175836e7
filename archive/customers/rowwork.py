"""The per-row work of an import that needs the row and the blind-index keys but not the
database, done a part of the file at a time (the importer checks and writes each part before
the next): parse and check the row's values, blind-index its identifiers, fingerprint it (so a
re-import is recognised), and key an enterprise's or institution's name for the fuzzy check.
Nothing is sealed here: a row is sealed only once its part has passed every check
(archive/customers/importing.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from archive.customers.intake import NOT_COMPARABLE, PUBLIC_NAME_KINDS, company_key
from archive.customers.models import INDEXED_FIELDS
from archive.customers.registry import NewCustomer, index_kind
from archive.customers.validation import parse_new_customer
from crypto.blind_index import IndexKind, PinnedIndex

PART = 500  # rows per part: one register query and two bulk inserts each
_INDEX_KINDS = {f: index_kind(f) for f in INDEXED_FIELDS}
Rows = Sequence[tuple[int, Mapping[str, str]]]  # (line, values by column)


@dataclass(slots=True)
class Worked:
    """One row after the per-row work."""

    line: int
    code: str | None  # None: the row did not split into the columns
    problems: list[tuple[str, str]]  # (column, message)
    new: NewCustomer | None = None
    fingerprint: str = ""
    indexes: dict[str, list[str]] | None = None  # field -> blind-index candidates (hex)
    name_key: str | None = None  # an enterprise's or institution's name as compared


def parts(rows: Rows) -> Iterator[Rows]:
    for start in range(0, len(rows), PART):
        yield rows[start:start + PART]


def canonical(raw: Mapping[str, str], header: Sequence[str]) -> str:
    """The row's values except its code, in header order: the same row gives the same text."""
    return "\x1f".join([raw.get(c, "") for c in header if c != "code"])


def work(index: PinnedIndex, header: Sequence[str], rows: Rows, *, today: date) -> list[Worked]:
    return [work_row(index, header, line, raw, today=today) for line, raw in rows]


def work_row(index: PinnedIndex, header: Sequence[str], line: int, raw: Mapping[str, str], *,
             today: date) -> Worked:
    if "__extra__" in raw:  # the row did not split into the columns
        return Worked(line, None, [("", "more values than columns")])
    new, errors = parse_new_customer(raw, today=today)
    item = Worked(line, raw.get("code", ""), [(e.field, e.message) for e in errors], new)
    if new is None or not item.code:
        return item
    item.indexes = {}
    for field in INDEXED_FIELDS:
        # A company's name is compared in clear (its `name_key`), not by a blind index.
        value = (None if new.kind in PUBLIC_NAME_KINDS else new.name) if field == "name" else new.sensitive.get(field)
        if value:
            hexes = item.indexes[field] = index.hex_candidates(_INDEX_KINDS[field], value)
            if not hexes:
                item.problems.append((field, NOT_COMPARABLE if field == "name" else
                                      "nothing left to compare once normalised"))
    item.fingerprint = index.compute(IndexKind.RECORD, canonical(raw, header)).hex()
    if new.kind in PUBLIC_NAME_KINDS:
        item.name_key = company_key(new.name)
        if not item.name_key:
            item.problems.append(("name", NOT_COMPARABLE))
    return item
