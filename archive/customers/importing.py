"""Importing customers from the CSV format API.md fixes — all or nothing.

Every row is validated first (fields, department and owner, the caller's scope, codes repeated
in the file, duplicates against the register and within the file); a file with any bad row
imports nothing and reports each problem as (line, column, message). A good file is written in
one transaction: data keys in bulk, each field sealed, blind indexes, one executemany, one
audit event as the acting user. Idempotent by customer code: a row whose code exists with the
same values (compared by the blind index of the row's canonical text, nothing decrypted) is
left alone; with changed values it is refused unless `update`, which applies the changes as
audited corrections.
"""

from __future__ import annotations

import csv
import gc
import io
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.customers.intake import (
    PUBLIC_NAME_KINDS,
    Candidate,
    DuplicateCheck,
    Findings,
    batch_row_of,
    company_key,
    index_candidates,
)
from archive.customers.models import INDEXED_FIELDS, Customer, CustomerReviewFlag
from archive.customers.repository import CustomerRepository
from archive.customers.service import CustomerRegistry, NewCustomer, index_kind
from archive.customers.validation import parse_new_customer
from archive.datakeys import DataKey
from archive.db import Database, bulk_insert, new_id, utcnow
from archive.errors import ArchiveError, FieldError
from archive.gate import CustomerGate, refuse
from archive.identity.models import Department, User
from archive.identity.principal import Principal
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Scope
from audit.events import AuditAction, Decision
from crypto.blind_index import BlindIndex, IndexKind
from crypto.dek import Dek
from crypto.envelope import FieldCipher
from crypto.keyring import KeyRing

HEADER = ("code", "name", "kind", "department", "owner", "status", "id_number", "tax_number", "phone", "email",
          "address", "industry", "region", "annual_volume", "credit_rating", "cooperation_since")
MAX_ROWS = 100_000
_INDEX_KINDS = {f: index_kind(f) for f in INDEXED_FIELDS}
_CANONICAL = tuple(c for c in HEADER if c != "code")
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int  # the file's line (the header is line 1); 0 for the file as a whole
    column: str
    message: str


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    flagged: int = 0  # created but waiting for review (same phone, similar name)
    problems: list[RowProblem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class _Row:
    line: int
    raw: dict[str, str]
    new: NewCustomer
    department: Department | None = None
    owner: User | None = None
    existing: Customer | None = None
    fingerprint: str = ""
    indexes: dict[str, list[str]] = field(default_factory=dict)  # field -> blind-index candidates
    name_key: str | None = None  # an enterprise's or institution's name as compared (company_key)


class ImportRefused(ArchiveError):
    """The file has bad rows; nothing was imported (the report lists them)."""

    status, title, type_slug = 422, "Import refused", "import-refused"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.problems)} problem(s) in the file; nothing was imported.",
                         errors=[FieldError(p.column, p.message, p.line) for p in report.problems])
        self.report = report


def read_csv(data: bytes, encoding: str = "utf-8") -> tuple[list[tuple[int, dict[str, str]]], list[RowProblem]]:
    """Rows with their line numbers; UTF-8 with or without BOM, or e.g. gbk from Chinese Excel."""
    try:
        text = data.decode("utf-8-sig" if encoding.lower().replace("-", "") == "utf8" else encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        return [], [RowProblem(0, "", f"the file is not {encoding} text ({exc.__class__.__name__}); "
                                      "files from Chinese Excel need --encoding gbk")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in HEADER if c not in header]
    unknown = [c for c in header if c not in HEADER]
    if missing or unknown:
        return [], [RowProblem(1, c, "missing column") for c in missing] + \
            [RowProblem(1, c, "unknown column") for c in unknown]
    reader.fieldnames = header
    rows = []
    for record in reader:
        if None in record:
            rows.append((reader.line_num, {"__extra__": "x"}))
            continue
        if all(not (v or "").strip() for v in record.values()):
            continue
        rows.append((reader.line_num, {k: (v or "").strip() for k, v in record.items()}))
        if len(rows) > MAX_ROWS:
            return [], [RowProblem(0, "", f"more than {MAX_ROWS} rows; split the file")]
    return rows, []


def canonical(raw: dict[str, str]) -> str:
    """The row's values except its code, in header order: the same row gives the same text."""
    return "\x1f".join([raw.get(c, "") for c in _CANONICAL])


class CustomerImporter:
    def __init__(self, db: Database, gate: CustomerGate, ring: KeyRing, index: BlindIndex) -> None:
        self.db = db
        self.gate = gate
        self.ring = ring
        self.index = index

    def run(self, principal: Principal, purpose: str | None, rows: Sequence[tuple[int, dict[str, str]]], *,
            auditor: Auditor, update: bool = False, dry_run: bool = False,
            progress: Progress | None = None) -> ImportReport:
        with _cycle_collector_paused():
            return self._run(principal, purpose, rows, auditor=auditor, update=update, dry_run=dry_run,
                             progress=progress)

    def _run(self, principal: Principal, purpose: str | None, rows: Sequence[tuple[int, dict[str, str]]], *,
             auditor: Auditor, update: bool, dry_run: bool, progress: Progress | None) -> ImportReport:
        tick = progress or (lambda _phase, _done, _total: None)
        report = ImportReport(rows=len(rows), dry_run=dry_run)
        parsed = self._parse(rows, report)
        tick("validated", len(rows), len(rows))
        ids: list[uuid.UUID] = []
        try:
            # One transaction for everything, data keys included: they commit with the rows
            # sealed under them or not at all (and on SQLite the write lock is held throughout,
            # so nothing can be registered between the duplicate check and the insert).
            with self.db.unit_of_work() as uow:
                session = uow.session
                decision = self.gate.authorize_import(session, principal, purpose, auditor)
                self._resolve(session, principal, decision, parsed, report)
                fresh = [r for r in parsed if r.existing is None]
                findings = self._duplicates(session, fresh, report)
                changed = self._compare(parsed, report, update=update)
                tick("checked", len(rows), len(rows))
                if not report.ok:
                    raise refuse(session, auditor, AuditAction.CUSTOMER_IMPORT, ImportRefused(_sorted(report)),
                                 resource_type="customer", purpose=purpose or "",
                                 policy_version=decision.policy_version,
                                 extra={"rows": str(len(rows)), "problems": str(len(report.problems))})
                if dry_run:
                    report.created = len(fresh)
                    uow.rollback()
                    return report
                ids = [new_id() for _ in fresh]
                made = self.ring.prepare_deks(ids)
                bulk_insert(session.connection(), DataKey.__table__, [
                    {"customer_id": w.customer_id, "dek_version": w.dek_version, "wrapped_key": w.wrapped_key,
                     "kek_version": w.kek_version, "state": w.state.value, "created_at": utcnow()} for w, _ in made])
                cipher = FieldCipher(_Keys({dek.customer_id: dek for _, dek in made}))
                registry = CustomerRegistry(CustomerRepository(session), cipher, self.index)
                self._insert(session, registry, principal, fresh, ids, tick)
                for row in changed:
                    self._correct(session, CustomerRegistry(CustomerRepository(session), FieldCipher(self.ring),
                                                            self.index), principal, decision, row)
                flags = self._flags(session, fresh, ids, findings)
                report.created, report.updated, report.flagged = len(fresh), len(changed), flags
                auditor.record(session, AuditAction.CUSTOMER_IMPORT, Decision.ALLOWED, resource_type="customer",
                               customer_ids=tuple(ids) + tuple(r.existing.id for r in changed if r.existing),
                               purpose=decision.purpose.value if decision.purpose else "",
                               categories=decision.categories, reason=decision.reason,
                               policy_rule=decision.rule_text, policy_version=decision.policy_version,
                               extra={"rows": str(len(rows)), "created": str(len(fresh)),
                                      "updated": str(len(changed)), "unchanged": str(report.unchanged),
                                      "flagged": str(flags)})
        except BaseException:
            self.ring.forget_many(ids)  # keys of a rolled-back import were never stored
            raise
        tick("written", len(rows), len(rows))
        return report

    # -- checks --------------------------------------------------------------------------------

    def _parse(self, rows: Sequence[tuple[int, dict[str, str]]], report: ImportReport) -> list[_Row]:
        parsed: list[_Row] = []
        codes: dict[str, int] = {}
        pinned = self.index.pinned()  # one look at the key directory for the whole file
        for line, raw in rows:
            if "__extra__" in raw:
                report.problems.append(RowProblem(line, "", "more values than columns"))
                continue
            new, errors = parse_new_customer(raw)
            report.problems += [RowProblem(line, e.field, e.message) for e in errors]
            code = raw.get("code", "")
            if not code:
                report.problems.append(RowProblem(line, "code", "required in an import (it makes re-imports safe)"))
            elif code in codes:
                report.problems.append(RowProblem(line, "code", f"also on line {codes[code]}"))
            else:
                codes[code] = line
            if new is not None and code:
                public = new.kind in PUBLIC_NAME_KINDS  # its name is compared in clear, not indexed
                values = {"name": None if public else new.name, **new.sensitive}
                indexes = {f: index_candidates(pinned, _INDEX_KINDS[f], value)
                           for f in INDEXED_FIELDS if (value := values.get(f))}
                unindexable = [f for f, hexes in indexes.items() if not hexes]
                report.problems += [RowProblem(line, f, "nothing left to compare once normalised")
                                    for f in unindexable]
                parsed.append(_Row(line, raw, new, fingerprint=pinned.compute(IndexKind.RECORD, canonical(raw)).hex(),
                                   indexes=indexes, name_key=company_key(new.name) if public else None))
        return parsed

    def _resolve(self, session: Session, principal: Principal, decision: PurposeDecision, parsed: list[_Row],
                 report: ImportReport) -> None:
        departments = {d.code: d for d in session.scalars(select(Department).where(
            Department.code.in_({r.new.department for r in parsed if r.new.department})))}
        owners = {u.username: u for u in session.scalars(select(User).where(
            User.username.in_({r.new.owner for r in parsed if r.new.owner})))}
        existing: dict[str, Customer] = {}
        codes = sorted({r.new.code for r in parsed if r.new.code})
        for start in range(0, len(codes), 500):
            existing.update({c.code: c for c in session.scalars(
                select(Customer).where(Customer.code.in_(codes[start:start + 500])))})
        whole_department = Scope.DEPARTMENT in decision.scopes
        for row in parsed:
            problems = report.problems
            row.department = departments.get(row.new.department or "") if row.new.department else \
                session.get(Department, principal.department_id) if principal.department_id else None
            row.owner = owners.get(row.new.owner or "") if row.new.owner else None
            if row.department is None:
                problems.append(RowProblem(row.line, "department", f"no department {row.new.department!r}"))
            elif row.department.id != principal.department_id:
                problems.append(RowProblem(row.line, "department", "outside your department; a manager of "
                                                                   f"{row.department.code} imports these"))
            if row.new.owner and (row.owner is None or row.owner.kind != "staff"):
                problems.append(RowProblem(row.line, "owner", f"no staff user {row.new.owner!r}"))
            elif row.owner is not None and row.department is not None and row.owner.department_id != row.department.id:
                problems.append(RowProblem(row.line, "owner", "not in that department"))
            elif not whole_department and (row.owner is None or row.owner.id != principal.id):
                problems.append(RowProblem(row.line, "owner", "you import only customers you own yourself"))
            row.existing = existing.get(row.new.code or "")

    def _duplicates(self, session: Session, fresh: list[_Row], report: ImportReport, *,
                    names: bool = True) -> list[Findings]:
        candidates = [Candidate(kind=r.new.kind, name=r.new.name, id_number=r.new.sensitive.get("id_number"),
                                tax_number=r.new.sensitive.get("tax_number"), phone=r.new.sensitive.get("phone"),
                                code=r.new.code, indexes=r.indexes, name_key=r.name_key) for r in fresh]
        findings = DuplicateCheck(session, self.index).many(candidates, names=names)
        for row, found in zip(fresh, findings, strict=True):
            for match in found.refusals:
                earlier = batch_row_of(match.customer_id)
                report.problems.append(RowProblem(row.line, match.field, f"the same as line {fresh[earlier].line} "
                                                  "of this file" if earlier is not None else
                                                  f"already registered as {match.code}; one record per company"))
        return findings

    def _compare(self, parsed: list[_Row], report: ImportReport, *, update: bool) -> list[_Row]:
        changed = []
        for row in parsed:
            existing = row.existing
            if existing is None:
                continue
            if existing.record_bidx == row.fingerprint:
                report.unchanged += 1
                continue
            if not update:
                report.problems.append(RowProblem(row.line, "code", f"{existing.code} exists with other values; "
                                                                    "import with --update to correct it"))
                continue
            steps = [c for c, now, then in (
                ("status", row.new.status, existing.status),
                ("department", row.department.id if row.department else None, existing.department_id),
                ("owner", row.owner.id if row.owner else existing.owner_id, existing.owner_id),
                ("kind", row.new.kind, existing.kind)) if now != then]
            for column in steps:
                report.problems.append(RowProblem(row.line, column, "changes through its own step, not an import"))
            if not steps:
                changed.append(row)
        return changed

    # -- writing -------------------------------------------------------------------------------

    def _insert(self, session: Session, registry: CustomerRegistry, principal: Principal, fresh: list[_Row],
                ids: list[uuid.UUID], tick: Progress) -> None:
        now = utcnow()
        values = []
        for n, (row, customer_id) in enumerate(zip(fresh, ids, strict=True), 1):
            assert row.department is not None
            values.append({
                "id": customer_id, "code": row.new.code, "kind": row.new.kind, "status": row.new.status,
                "department_id": row.department.id, "owner_id": row.owner.id if row.owner else None,
                "created_by": principal.id, "created_at": now, "updated_at": now, "version": 1,
                "verification_status": "unverified", "risk_level": "unassessed", "record_bidx": row.fingerprint,
                "industry": None, "region": None, "size_class": None, "public_name": None, "name_key": None,
                **dict(row.new.profile),
                **registry.sealed_columns(customer_id, row.new.kind, {"name": row.new.name, **row.new.sensitive},
                                          row.indexes, name_key=row.name_key),
            })
            if n % 500 == 0:
                tick("sealed", n, len(fresh))
        columns = sorted({k for v in values for k in v})
        bulk_insert(session.connection(), Customer.__table__, values, columns=columns)

    def _correct(self, session: Session, registry: CustomerRegistry, principal: Principal,
                 decision: PurposeDecision, row: _Row) -> None:
        assert row.existing is not None
        customer = session.get(Customer, row.existing.id)
        assert customer is not None
        changes = {**{k: v for k, v in row.new.profile.items()}, "name": row.new.name, **row.new.sensitive}
        registry.correct(customer, changes, reason=f"import (line {row.line})",
                         purpose=decision.purpose.value if decision.purpose else "", changed_by=principal.id)
        customer.record_bidx = row.fingerprint
        session.flush()

    def _flags(self, session: Session, fresh: list[_Row], ids: list[uuid.UUID],
               findings: list[Findings]) -> int:
        flags = []
        for customer_id, found in zip(ids, findings, strict=True):
            for match in found.flags:
                earlier = batch_row_of(match.customer_id)
                other = ids[earlier] if earlier is not None else match.customer_id
                flags.append({"id": new_id(), "customer_id": customer_id, "other_customer_id": other,
                              "reason": "same_phone" if match.field == "phone" else "similar_name",
                              "score": match.score, "created_at": utcnow()})
        if flags:
            session.execute(insert(CustomerReviewFlag), flags)
        return len({f["customer_id"] for f in flags})


class _Keys:
    """The import's fresh data keys, for sealing its rows (no cache, no store round trip)."""

    def __init__(self, deks: dict[uuid.UUID, Dek]) -> None:
        self.deks = deks

    def dek_for_encrypt(self, customer_id: uuid.UUID) -> Dek:
        return self.deks[customer_id]

    def dek_for_decrypt(self, customer_id: uuid.UUID, dek_version: int) -> Dek:
        raise KeyError("an import only seals")


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """An import holds tens of thousands of live objects (its rows) that are not garbage: each
    full cyclic collection would walk all of them again, repeatedly, for nothing — a third of
    the import's time (bench/intake.py). Reference counting still frees everything; the
    collector resumes when the import ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _sorted(report: ImportReport) -> ImportReport:
    report.problems.sort(key=lambda p: (p.line, p.column))
    return report
