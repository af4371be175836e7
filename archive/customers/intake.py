"""One record per company (DOMAIN.md "Intake"): the duplicate checks every new customer passes,
one at a time (`POST /customers`) or a whole file at once (the import).

- Same licence / ID number or tax number (blind index) → refused: the register keeps one record.
- Same phone (blind index), or a near-identical name → accepted but flagged for review.
  Enterprise and institution names are public registry data kept in clear and compared fuzzily
  after normalisation (rapidfuzz); an individual's name is sealed and compared only by the blind
  index of its normalised form.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rapidfuzz import fuzz, process
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.customers.models import Customer
from crypto.blind_index import IndexKind
from crypto.errors import InvalidIndexValue

SIMILAR_NAME = 92  # rapidfuzz ratio (0–100) from which two company names are flagged
PUBLIC_NAME_KINDS = ("enterprise", "institution")
# Legal-form words that do not tell two companies apart (a name is compared without them).
_LEGAL_FORMS = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|集团公司|集团|公司|分公司|"
    r"co\.?,?\s*ltd\.?|company\s+limited|limited|ltd\.?|inc\.?|corp\.?|llc)$",
    re.IGNORECASE,
)


def company_key(name: str) -> str:
    """The form two company names are compared in: NFKC, case-folded, without punctuation,
    spaces and trailing legal-form words ("徐州华宇机械有限公司" ~ "徐州 华宇机械")."""
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    previous = None
    while previous != text:
        previous = text
        text = _LEGAL_FORMS.sub("", text).strip(" ,.")
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "ZPSC")


@dataclass(frozen=True, slots=True)
class Match:
    field: str  # id_number | tax_number | phone | name
    customer_id: uuid.UUID
    code: str
    score: int = 100


@dataclass(slots=True)
class Candidate:
    """What the checks need of one new customer (plaintext stays in the caller's hands)."""

    kind: str
    name: str | None = None
    id_number: str | None = None
    tax_number: str | None = None
    phone: str | None = None
    code: str | None = None  # a re-import of this code is not a duplicate of itself
    indexes: Mapping[str, list[str]] | None = None  # field -> blind-index candidates, if computed already
    name_key: str | None = None  # company_key(name) of an enterprise or institution, if computed already


@dataclass(slots=True)
class Findings:
    refusals: list[Match] = field(default_factory=list)  # same ID / tax number
    flags: list[Match] = field(default_factory=list)  # same phone, similar name


class Indexer(Protocol):
    def candidates(self, kind: IndexKind, value: str) -> list[bytes]: ...


def index_candidates(index: Indexer, kind: IndexKind, value: str | None) -> list[str]:
    """Hex blind-index values of `value` under every live key version (active first)."""
    if not value:
        return []
    try:
        return [c.hex() for c in index.candidates(kind, value)]
    except InvalidIndexValue:
        return []


class DuplicateCheck:
    def __init__(self, session: Session, index: Indexer) -> None:
        self.session = session
        self.index = index

    def one(self, candidate: Candidate) -> Findings:
        return self.many([candidate])[0]

    def many(self, candidates: Sequence[Candidate], *, names: bool = True) -> list[Findings]:
        """Findings per candidate, against the register and against each other (earlier rows of
        the same batch count as registered: the first to record a customer owns it)."""
        findings = [Findings() for _ in candidates]
        self._identifiers(candidates, findings)
        self._phones(candidates, findings)
        if names:
            self._names(candidates, findings)
        return findings

    def _hexes(self, candidate: Candidate, field: str, kind: IndexKind, value: str | None) -> list[str]:
        if candidate.indexes is not None and field in candidate.indexes:
            return candidate.indexes[field]
        return index_candidates(self.index, kind, value)

    def _existing(self, columns: Iterable[str], hexes: set[str]) -> list[Customer]:
        if not hexes:
            return []
        found: list[Customer] = []
        chunk = sorted(hexes)
        for start in range(0, len(chunk), 500):
            part = chunk[start:start + 500]
            found += self.session.scalars(select(Customer).where(
                or_(*(getattr(Customer, f"{c}_bidx").in_(part) for c in columns)))).all()
        return found

    def _identifiers(self, candidates: Sequence[Candidate], findings: list[Findings]) -> None:
        per_row = [{*self._hexes(c, "id_number", IndexKind.ID_NUMBER, c.id_number),
                    *self._hexes(c, "tax_number", IndexKind.ID_NUMBER, c.tax_number)} for c in candidates]
        registered: dict[str, tuple[str, uuid.UUID, str]] = {}
        for customer in self._existing(("id_number", "tax_number"), set().union(*per_row)):
            for column in ("id_number", "tax_number"):
                value = getattr(customer, f"{column}_bidx")
                if value:
                    registered[value] = (column, customer.id, customer.code)
        earlier: dict[str, int] = {}  # index value -> the first row of this batch that has it
        for i, (candidate, hexes) in enumerate(zip(candidates, per_row, strict=True)):
            seen: set[uuid.UUID] = set()
            for h in hexes:
                hit = registered.get(h)
                if hit is None and h in earlier:  # an earlier row of the batch counts as registered
                    hit = ("id_number", *_batch_row(candidates, earlier[h]))
                if hit and hit[1] not in seen and hit[2] != candidate.code:
                    seen.add(hit[1])
                    findings[i].refusals.append(Match(hit[0], hit[1], hit[2]))
            for h in hexes:
                earlier.setdefault(h, i)

    def _phones(self, candidates: Sequence[Candidate], findings: list[Findings]) -> None:
        per_row = [self._hexes(c, "phone", IndexKind.PHONE, c.phone) for c in candidates]
        registered: dict[str, tuple[uuid.UUID, str]] = {}
        for customer in self._existing(("phone",), {h for hexes in per_row for h in hexes}):
            registered[customer.phone_bidx or ""] = (customer.id, customer.code)
        earlier: dict[str, int] = {}
        for i, (candidate, hexes) in enumerate(zip(candidates, per_row, strict=True)):
            hit = next((registered[h] for h in hexes if h in registered), None)
            if hit is None:
                hit = next((_batch_row(candidates, earlier[h]) for h in hexes if h in earlier), None)
            if hit and hit[1] != candidate.code:
                findings[i].flags.append(Match("phone", hit[0], hit[1]))
            for h in hexes:
                earlier.setdefault(h, i)

    def _names(self, candidates: Sequence[Candidate], findings: list[Findings]) -> None:
        keyed = ((i, c.name_key or company_key(c.name)) for i, c in enumerate(candidates)
                 if c.kind in PUBLIC_NAME_KINDS and c.name)
        public = [(i, key) for i, key in keyed if key]
        if public:
            rows = self.session.execute(select(Customer.id, Customer.code, Customer.name_key)
                                        .where(Customer.name_key.is_not(None))).all()
            keys = [r.name_key for r in rows]
            for i, key in public:
                best = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=SIMILAR_NAME) if keys else None
                if best is not None:
                    row = rows[best[2]]
                    if row.code != candidates[i].code:
                        findings[i].flags.append(Match("name", row.id, row.code, int(best[1])))
        private = [(i, self._hexes(c, "name", IndexKind.NAME, c.name)) for i, c in enumerate(candidates)
                   if c.kind not in PUBLIC_NAME_KINDS and c.name]
        wanted = {h for _, hexes in private for h in hexes}
        registered = {c.name_bidx: c for c in self._existing(("name",), wanted)}
        for i, hexes in private:
            hit = next((registered[h] for h in hexes if h in registered), None)
            if hit is not None and hit.code != candidates[i].code:
                findings[i].flags.append(Match("name", hit.id, hit.code))


def _batch_row(candidates: Sequence[Candidate], row: int) -> tuple[uuid.UUID, str]:
    """A stand-in id and the code of a row of the same batch that is not registered yet."""
    return uuid.UUID(int=row + 1), candidates[row].code or f"row {row + 1}"


def batch_row_of(customer_id: uuid.UUID) -> int | None:
    """The batch row a stand-in id (from `many`) names, or None for a registered customer."""
    return customer_id.int - 1 if customer_id.int <= MAX_BATCH else None


MAX_BATCH = 2**32  # stand-in ids are 1..n; a real (UUIDv7) id is far larger
