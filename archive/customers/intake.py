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
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Protocol

from rapidfuzz import fuzz, process
from sqlalchemy.orm import Session

from archive.customers.models import PUBLIC_NAME_KINDS as PUBLIC_NAME_KINDS  # rowwork imports it from here
from archive.customers.repository import CustomerRepository, Registered
from crypto.blind_index import DROP_SEPARATORS_AND_PUNCTUATION, IndexKind
from crypto.errors import InvalidIndexValue

SIMILAR_NAME = 92  # rapidfuzz ratio (0–100) from which two company names are flagged
# Legal-form words that do not tell two companies apart (a name is compared without them).
# Matched against case-folded text, so without IGNORECASE (which made each search three times
# slower); the one letter IGNORECASE also took for an ASCII one, dotless ı for i, is spelled out.
_LEGAL_FORMS = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|集团公司|集团|公司|分公司|"
    r"co\.?,?\s*ltd\.?|company\s+l[iı]m[iı]ted|l[iı]m[iı]ted|ltd\.?|[iı]nc\.?|corp\.?|llc)$"
)


def company_key(name: str) -> str:
    """The form two company names are compared in: NFKC, case-folded, without punctuation,
    spaces and trailing legal-form words ("徐州华宇机械有限公司" ~ "徐州 华宇机械")."""
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    previous = None
    while previous != text:
        previous = text
        text = _LEGAL_FORMS.sub("", text).strip(" ,.")
    return text.translate(DROP_SEPARATORS_AND_PUNCTUATION)


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


def comparable_name(index: Indexer, kind: str, name: str) -> bool:
    """Whether a name leaves something to compare with the register once normalised: a
    company's key (not only punctuation or a legal form), an individual's blind index."""
    if kind in PUBLIC_NAME_KINDS:
        return bool(company_key(name))
    return bool(index_candidates(index, IndexKind.NAME, name))


NOT_COMPARABLE = "nothing left to compare once normalised (letters or digits, not only a legal form)"


class DuplicateCheck:
    """Checks one new customer (`one`) or a file of them in order, one part at a time (`many`):
    each row meets the register and every earlier row of the same file. `own` holds the ids of
    rows the caller has already written in this transaction; the register they now sit in is
    looked at without them, so they are still met as rows of the file."""

    def __init__(self, session: Session, index: Indexer, *, own: AbstractSet[uuid.UUID] = frozenset()) -> None:
        self.repo = CustomerRepository(session)
        self.index = index
        self.own = own
        self._seen: list[Candidate] = []  # the file's rows so far, numbered across calls
        self._earlier_ids: dict[str, int] = {}  # index value -> first row of the file with it
        self._earlier_phones: dict[str, int] = {}
        self._company_names: list[tuple[uuid.UUID, str, str]] | None = None  # the register's, loaded once

    def one(self, candidate: Candidate) -> Findings:
        return self.many([candidate])[0]

    def many(self, candidates: Sequence[Candidate]) -> list[Findings]:
        """Findings per candidate, against the register and against earlier rows (of this call
        and of earlier calls): the first to record a customer owns it."""
        offset = len(self._seen)
        self._seen += candidates
        findings = [Findings() for _ in candidates]
        ids = [{*self._hexes(c, "id_number", IndexKind.ID_NUMBER, c.id_number),
                *self._hexes(c, "tax_number", IndexKind.ID_NUMBER, c.tax_number)} for c in candidates]
        phones = [self._hexes(c, "phone", IndexKind.PHONE, c.phone) for c in candidates]
        names = [self._hexes(c, "name", IndexKind.NAME, c.name) if c.kind not in PUBLIC_NAME_KINDS and c.name
                 else [] for c in candidates]
        registered = self._registered({"id_number": set().union(*ids), "tax_number": set().union(*ids),
                                       "phone": {h for hexes in phones for h in hexes},
                                       "name": {h for hexes in names for h in hexes}})
        self._identifiers(candidates, offset, ids, registered, findings)
        self._phones(candidates, offset, phones, registered, findings)
        self._private_names(candidates, names, registered, findings)
        self._company_names_alike(candidates, findings)
        return findings

    def _hexes(self, candidate: Candidate, field: str, kind: IndexKind, value: str | None) -> list[str]:
        if candidate.indexes is not None and field in candidate.indexes:
            return candidate.indexes[field]
        return index_candidates(self.index, kind, value)

    def _registered(self, wanted: Mapping[str, set[str]]) -> list[Registered]:
        """Registered customers holding any of the wanted index values, in one query per part."""
        if not any(wanted.values()):
            return []
        found = self.repo.registered_with(wanted)
        return [r for r in found if r.id not in self.own] if self.own else found

    def _earlier(self, row: int) -> tuple[uuid.UUID, str]:
        """A stand-in id and the code of an earlier row of the file (not registered yet)."""
        return uuid.UUID(int=row + 1), self._seen[row].code or f"row {row + 1}"

    def _identifiers(self, candidates: Sequence[Candidate], offset: int, per_row: list[set[str]],
                     found: list[Registered], findings: list[Findings]) -> None:
        registered: dict[str, tuple[str, uuid.UUID, str]] = {}
        for r in found:
            for column, value in (("id_number", r.id_number), ("tax_number", r.tax_number)):
                if value:
                    registered[value] = (column, r.id, r.code)
        earlier = self._earlier_ids
        for i, (candidate, hexes) in enumerate(zip(candidates, per_row, strict=True)):
            seen: set[uuid.UUID] = set()
            for h in hexes:
                hit = registered.get(h)
                if hit is None and h in earlier:
                    hit = ("id_number", *self._earlier(earlier[h]))
                if hit and hit[1] not in seen and hit[2] != candidate.code:
                    seen.add(hit[1])
                    findings[i].refusals.append(Match(hit[0], hit[1], hit[2]))
            for h in hexes:
                earlier.setdefault(h, offset + i)

    def _phones(self, candidates: Sequence[Candidate], offset: int, per_row: list[list[str]],
                found: list[Registered], findings: list[Findings]) -> None:
        registered = {r.phone: (r.id, r.code) for r in found if r.phone}
        earlier = self._earlier_phones
        for i, (candidate, hexes) in enumerate(zip(candidates, per_row, strict=True)):
            hit = next((registered[h] for h in hexes if h in registered), None)
            if hit is None:
                hit = next((self._earlier(earlier[h]) for h in hexes if h in earlier), None)
            if hit and hit[1] != candidate.code:
                findings[i].flags.append(Match("phone", hit[0], hit[1]))
            for h in hexes:
                earlier.setdefault(h, offset + i)

    def _private_names(self, candidates: Sequence[Candidate], per_row: list[list[str]], found: list[Registered],
                       findings: list[Findings]) -> None:
        """An individual's name is sealed: the same normalised name (blind index) is flagged."""
        registered = {r.name: (r.id, r.code) for r in found if r.name}
        for i, hexes in enumerate(per_row):
            hit = next((registered[h] for h in hexes if h in registered), None)
            if hit is not None and hit[1] != candidates[i].code:
                findings[i].flags.append(Match("name", hit[0], hit[1]))

    def _company_names_alike(self, candidates: Sequence[Candidate], findings: list[Findings]) -> None:
        """A company's name is public: a near-identical one in the register is flagged."""
        keyed = ((i, c.name_key or company_key(c.name)) for i, c in enumerate(candidates)
                 if c.kind in PUBLIC_NAME_KINDS and c.name)
        public = [(i, key) for i, key in keyed if key]
        if not public:
            return
        if self._company_names is None:  # once per file (rows it writes later are not in it)
            self._company_names = [r for r in self.repo.company_names() if r[0] not in self.own]
        registered = self._company_names
        keys = [r[2] for r in registered]
        if not keys:
            return
        for i, key in public:
            best = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=SIMILAR_NAME)
            if best is not None:
                customer_id, code, _ = registered[best[2]]
                if code != candidates[i].code:
                    findings[i].flags.append(Match("name", customer_id, code, int(best[1])))


def batch_row_of(customer_id: uuid.UUID) -> int | None:
    """The row of the file (counted across `many` calls) a stand-in id names, or None for a
    registered customer."""
    return customer_id.int - 1 if customer_id.int <= MAX_BATCH else None


MAX_BATCH = 2**32  # stand-in ids are 1..n; a real (UUIDv7) id is far larger


def registration_refusal(principal_id: uuid.UUID, principal_department: uuid.UUID | None, *,
                         department_id: uuid.UUID, owner_id: uuid.UUID, owner_department: uuid.UUID | None,
                         whole_department: bool) -> str | None:
    """Why the caller may not register a customer for this department and owner (DOMAIN.md
    "Intake": a rep records their own, a head any in the department), or None if they may."""
    if (department_id != principal_department or owner_department != department_id
            or (not whole_department and owner_id != principal_id)):
        return ("You register customers for yourself" + (" or your department's staff" if whole_department else "")
                + "; a manager assigns them elsewhere.")
    return None
