"""Importing customers from the CSV format API.md fixes — all or nothing.

Every row is checked (fields, department and owner, the caller's scope, codes repeated in the
file, duplicates against the register and the file's earlier rows); a file with any bad row
imports nothing and reports each problem as (line, column, message). The whole file is one
unit of work, a part at a time: each part's rows are worked (archive/customers/rowwork: parsed,
blind-indexed), checked, and — while the file is clean — sealed under fresh data keys and
written in bulk with those keys, in the same transaction; a problem stops the writing, the
checks go on to the end, and the refusal rolls back what was written and commits only its
audit event. One audit event as the acting user either way. Idempotent by customer code: a row
whose code exists with the same values (compared by the blind index of the row's canonical
text, nothing decrypted) is left alone; with changed values it is refused unless `update`,
which applies the changes as audited corrections.
"""

from __future__ import annotations

import csv
import functools
import io
import uuid
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.bulk import insert_rows, one_of
from archive.customers.intake import (
    Candidate,
    DuplicateCheck,
    Findings,
    batch_row_of,
)
from archive.customers.models import Customer, CustomerReviewFlag
from archive.customers.registry import CustomerRegistry, NewCustomer, columns_of
from archive.customers.repository import CustomerRepository
from archive.customers.rowwork import Worked, parts, work
from archive.customers.validation import PROFILE
from archive.datakeys import SqlKeyStore
from archive.db import Database, UnitOfWork, new_id, utcnow
from archive.errors import ArchiveError, FieldError
from archive.gate import Caller, Gate, deny
from archive.identity.models import Department, User
from archive.identity.principal import Principal
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Action, Scope
from audit.events import AuditAction, Decision
from crypto.blind_index import BlindIndex
from crypto.envelope import FieldCipher, FieldContext, seal
from crypto.keyring import KeyRing
from crypto.keystore import WrappedDek

HEADER = ("code", "name", "kind", "department", "owner", "status", "id_number", "tax_number", "phone", "email",
          "address", "industry", "region", "annual_volume", "credit_rating", "cooperation_since")
MAX_ROWS = 100_000
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
    new: NewCustomer
    worked: Worked
    department: DepartmentRef | None = None
    owner: UserRef | None = None
    existing: Customer | None = None

    customer_id: uuid.UUID | None = None  # given when the row is written


class ImportRefused(ArchiveError):
    """The file has bad rows; nothing was imported (the report lists them)."""

    status, title, type_slug = 422, "Import refused", "import-refused"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.problems)} problem(s) in the file; nothing was imported.",
                         errors=[FieldError(p.column, p.message, p.line) for p in report.problems])
        self.report = report


class _DryRun(Exception):  # not an error: it carries a dry run's report out of its rolled-back unit
    def __init__(self, report: ImportReport) -> None:
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


class CustomerImporter:
    def __init__(self, db: Database, gate: Gate, ring: KeyRing, index: BlindIndex) -> None:
        self.db = db
        self.gate = gate
        self.ring = ring
        self.index = index

    def run(self, principal: Principal, purpose: str | None, rows: Sequence[tuple[int, dict[str, str]]], *,
            auditor: Auditor, update: bool = False, dry_run: bool = False, progress: Progress | None = None,
            uow: UnitOfWork | None = None) -> ImportReport:
        """One unit of work for the whole file — `uow` (un-entered: a request's) or one of its
        own: committed with its audit event when every row is good; rolled back (its refusal
        event committed alone) when one is not, or for a dry run."""
        tick = progress or (lambda _phase, _done, _total: None)
        try:
            with self.db.unit_of_work() if uow is None else uow as unit:
                report = self._run(unit, Caller(principal, auditor, purpose), rows, update=update,
                                   dry_run=dry_run, tick=tick)
        except _DryRun as done:
            return done.report
        tick("written", len(rows), len(rows))
        return report

    def _run(self, uow: UnitOfWork, caller: Caller, rows: Sequence[tuple[int, dict[str, str]]], *, update: bool,
             dry_run: bool, tick: Progress) -> ImportReport:
        session, principal, auditor = uow.session, caller.principal, caller.auditor
        report = ImportReport(rows=len(rows), dry_run=dry_run)
        index = self.index.pinned()  # one look at the blind-index keys for the file (a rotation waits)
        today = date.today()
        codes: dict[str, int] = {}  # code -> first line with it
        fresh: list[_Row] = []
        findings: list[Findings] = []
        changed: list[_Row] = []
        written: set[uuid.UUID] = set()
        # The file is checked and written part by part, each part against the register and the
        # earlier parts; the first problem stops the writing (the checks go on, so every bad row
        # is reported), and the refusal rolls back what was written. On SQLite the unit holds
        # the write lock throughout, so nothing is registered in between.
        decision = self.gate.decide(uow, caller, Action.CUSTOMER_CREATE)  # a refusal is audited by the gate
        directory = _Directory(session, principal)
        check = DuplicateCheck(session, self.index, own=written)
        done = 0
        for part in parts(rows):
            parsed = self._parse(work(index, HEADER, part, today=today), report, codes)
            self._resolve(directory, decision, parsed, report, written)
            new = [r for r in parsed if r.existing is None]
            findings += self._duplicates(check, new, report, offset=len(fresh), earlier=fresh)
            fresh += new
            changed += self._compare(parsed, report, update=update)
            if report.ok and not dry_run:
                self._insert(session, principal, new)
                written.update(r.customer_id for r in new if r.customer_id)
            done += len(part)
            tick("checked", done, len(rows))
        if not report.ok:
            raise deny(auditor, AuditAction.CUSTOMER_IMPORT, ImportRefused(_sorted(report)), resource_type="customer",
                       purpose=caller.purpose or "", policy_version=decision.policy_version,
                       extra={"rows": str(len(rows)), "problems": str(len(report.problems))})
        if dry_run:
            report.created = len(fresh)
            raise _DryRun(report)  # nothing of it stays
        flags = self._flag_rows(fresh, findings)
        report.created, report.updated = len(fresh), len(changed)
        report.flagged = len({f["customer_id"] for f in flags})
        registry = CustomerRegistry(CustomerRepository(session), FieldCipher(self.ring), self.index)
        for row in changed:
            self._correct(session, registry, principal, decision, row)
        insert_rows(session.connection(), CustomerReviewFlag, flags)
        auditor.record(session, AuditAction.CUSTOMER_IMPORT, Decision.ALLOWED, resource_type="customer",
                       customer_ids=tuple(r.customer_id for r in fresh if r.customer_id)
                       + tuple(r.existing.id for r in changed if r.existing),
                       purpose=decision.purpose.value if decision.purpose else "", categories=decision.categories,
                       reason=decision.reason, policy_rule=decision.rule_text, policy_version=decision.policy_version,
                       extra={"rows": str(len(rows)), "created": str(report.created), "updated": str(report.updated),
                              "unchanged": str(report.unchanged), "flagged": str(report.flagged)})
        return report

    # -- checks --------------------------------------------------------------------------------

    def _parse(self, part: list[Worked], report: ImportReport, codes: dict[str, int]) -> list[_Row]:
        parsed: list[_Row] = []
        for item in part:
            report.problems += [RowProblem(item.line, column, message) for column, message in item.problems]
            if item.code is None:  # the row did not split into the columns
                continue
            if not item.code:
                report.problems.append(RowProblem(item.line, "code", "required in an import "
                                                                      "(it makes re-imports safe)"))
            elif item.code in codes:
                report.problems.append(RowProblem(item.line, "code", f"also on line {codes[item.code]}"))
            else:
                codes[item.code] = item.line
            if item.new is not None and item.code:
                parsed.append(_Row(item.line, item.new, item))
        return parsed

    def _resolve(self, directory: _Directory, decision: PurposeDecision, parsed: list[_Row],
                 report: ImportReport, written: set[uuid.UUID]) -> None:
        directory.load({r.new.department for r in parsed if r.new.department},
                       {r.new.owner for r in parsed if r.new.owner})
        # Customers this import wrote already are not "existing": a code twice in the file is
        # reported as such, not as a re-import.
        existing = {c.code: c for c in directory.customers({r.new.code for r in parsed if r.new.code},
                                                             without=written)}
        principal = directory.principal
        whole_department = Scope.DEPARTMENT in decision.scopes
        problems = report.problems
        # The verdict depends only on the department and owner a row names: judged once per pair.
        verdicts: dict[tuple[str | None, str | None], _Verdict] = {}
        for row in parsed:
            named = (row.new.department, row.new.owner)
            verdict = verdicts.get(named)
            if verdict is None:
                verdict = verdicts[named] = self._verdict(directory, principal, whole_department, *named)
            row.department, row.owner, found = verdict
            problems += [RowProblem(row.line, column, message) for column, message in found]
            row.existing = existing.get(row.new.code or "")

    @staticmethod
    def _verdict(directory: _Directory, principal: Principal, whole_department: bool, department_code: str | None,
                 username: str | None) -> _Verdict:
        """The department and owner a row names, and what is wrong with them: (column, message)."""
        department = directory.departments.get(department_code) if department_code else directory.home
        owner = directory.users.get(username) if username else None
        found = []
        if department is None:
            found.append(("department", f"no department {department_code!r}"))
        elif department.id != principal.department_id:
            found.append(("department", f"outside your department; a manager of {department.code} imports these"))
        if username and (owner is None or owner.kind != "staff"):
            found.append(("owner", f"no staff user {username!r}"))
        elif owner is not None and department is not None and owner.department_id != department.id:
            found.append(("owner", "not in that department"))
        elif not whole_department and (owner is None or owner.id != principal.id):
            found.append(("owner", "you import only customers you own yourself"))
        return department, owner, found

    def _duplicates(self, check: DuplicateCheck, new: list[_Row], report: ImportReport, *, offset: int,
                    earlier: list[_Row]) -> list[Findings]:
        candidates = [Candidate(kind=r.new.kind, name=r.new.name, id_number=r.new.sensitive.get("id_number"),
                                tax_number=r.new.sensitive.get("tax_number"), phone=r.new.sensitive.get("phone"),
                                code=r.new.code, indexes=r.worked.indexes, name_key=r.worked.name_key) for r in new]
        findings = check.many(candidates)
        for row, found in zip(new, findings, strict=True):
            for match in found.refusals:
                at = batch_row_of(match.customer_id)
                line = None if at is None else (earlier[at] if at < offset else new[at - offset]).line
                report.problems.append(RowProblem(row.line, match.field, f"the same as line {line} of this file"
                                                  if line is not None else
                                                  f"already registered as {match.code}; one record per company"))
        return findings

    def _compare(self, parsed: list[_Row], report: ImportReport, *, update: bool) -> list[_Row]:
        changed = []
        for row in parsed:
            existing = row.existing
            if existing is None:
                continue
            if existing.record_bidx == row.worked.fingerprint:
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

    def _insert(self, session: Session, principal: Principal, rows: list[_Row]) -> None:
        """New customers, each with a fresh id and data key and its sensitive fields sealed under
        it, inserted in bulk with their keys in the import's transaction: a key commits with its
        customer or not at all."""
        if not rows:
            return
        now = utcnow()
        keys: list[WrappedDek] = []
        customers: list[dict[str, object]] = []
        for row in rows:
            customer_id = new_id()
            wrapped, dek = self.ring.new_dek(customer_id)
            keys.append(wrapped)
            new, worked = row.new, row.worked
            sensitive = {"name": new.name, **new.sensitive}
            sealed = {f: seal(dek, FieldContext("customers", f, customer_id, customer_id), v.encode())
                      for f, v in sensitive.items() if v is not None}
            assert row.department is not None  # a row without one was refused
            customers.append({
                **columns_of(self.index, new.kind, sensitive, sealed, worked.indexes, name_key=worked.name_key),
                **{column: new.profile.get(column) for column in PROFILE},
                "id": customer_id, "code": new.code, "kind": new.kind, "status": new.status,
                "record_bidx": worked.fingerprint, "department_id": row.department.id,
                "owner_id": row.owner.id if row.owner else None, "created_by": principal.id, "created_at": now,
                "updated_at": now, "version": 1, "verification_status": "unverified", "risk_level": "unassessed"})
            row.customer_id = customer_id
        SqlKeyStore.within(session).add_first_keys(keys)
        insert_rows(session.connection(), Customer, customers)

    def _correct(self, session: Session, registry: CustomerRegistry, principal: Principal,
                 decision: PurposeDecision, row: _Row) -> None:
        assert row.existing is not None
        customer = session.get(Customer, row.existing.id)
        assert customer is not None
        changes = {**{k: v for k, v in row.new.profile.items()}, "name": row.new.name, **row.new.sensitive}
        registry.correct(customer, changes, reason=f"import (line {row.line})",
                         purpose=decision.purpose.value if decision.purpose else "", changed_by=principal.id)
        customer.record_bidx = row.worked.fingerprint
        session.flush()

    @staticmethod
    def _flag_rows(fresh: list[_Row], findings: list[Findings]) -> list[dict[str, object]]:
        """The review flags for the new customers (same phone, similar name), as rows."""
        flags: list[dict[str, object]] = []
        now = utcnow()
        for row, found in zip(fresh, findings, strict=True):
            for match in found.flags:
                earlier = batch_row_of(match.customer_id)
                other = fresh[earlier].customer_id if earlier is not None else match.customer_id
                assert row.customer_id is not None
                assert other is not None
                flags.append({"id": new_id(), "customer_id": row.customer_id, "other_customer_id": other,
                              "reason": "same_phone" if match.field == "phone" else "similar_name",
                              "score": match.score, "created_at": now})
        return flags


class DepartmentRef(NamedTuple):
    id: uuid.UUID
    code: str


class UserRef(NamedTuple):
    id: uuid.UUID
    username: str
    kind: str
    department_id: uuid.UUID | None


_Verdict = tuple[DepartmentRef | None, UserRef | None, list[tuple[str, str]]]  # and the problems: (column, message)


class _Directory:
    """The departments, users and existing customers a file names, each looked up once — read
    as plain rows (Core), not ORM objects: an import needs their ids and a few fields, and an
    ORM query's set-up cost more than the rest of a small import."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.departments: dict[str, DepartmentRef] = {}
        self.users: dict[str, UserRef] = {}
        self.home: DepartmentRef | None = None
        if principal.department_id:
            table = Department.__table__.c
            found = session.connection().execute(select(table.id, table.code).where(
                table.id == principal.department_id)).first()
            self.home = DepartmentRef(*found) if found else None

    def load(self, departments: set[str], users: set[str]) -> None:
        connection = self.session.connection()
        wanted = departments - self.departments.keys()
        if wanted:
            table = Department.__table__.c
            self.departments.update({row.code: DepartmentRef(*row) for row in connection.execute(
                select(table.id, table.code).where(table.code.in_(wanted)))})
        wanted = users - self.users.keys()
        if wanted:
            table = User.__table__.c
            self.users.update({row.username: UserRef(*row) for row in connection.execute(
                select(table.id, table.username, table.kind, table.department_id).where(table.username.in_(wanted)))})

    def customers(self, codes: set[str], *, without: AbstractSet[uuid.UUID]) -> list[Customer]:
        """Registered customers with these codes (ids first: most files are mostly new)."""
        if not codes:
            return []
        connection = self.session.connection()  # Core: no ORM compile state for a query per part
        found = connection.execute(_ids_by_code(connection.dialect.name), {"codes": sorted(codes)})
        hits = [h for (h,) in found if h not in without]
        return list(self.session.scalars(select(Customer).where(Customer.id.in_(hits)))) if hits else []


@functools.cache
def _ids_by_code(dialect: str) -> Select[tuple[uuid.UUID]]:
    """Registered customers' ids by code (the parameter `codes`): built once, run per part."""
    table = Customer.__table__.c
    return select(table.id).where(one_of(table.code, None, dialect, name="codes"))


def _sorted(report: ImportReport) -> ImportReport:
    report.problems.sort(key=lambda p: (p.line, p.column))
    return report
