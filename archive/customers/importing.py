"""Importing customers from the CSV format API.md fixes — all or nothing.

Every row is checked (fields, department and owner, the caller's scope, codes repeated in the
file, duplicates against the register and the file's earlier rows); a file with any bad row
imports nothing and reports each problem as (line, column, message). The whole file is one
transaction, a part at a time: each part's rows are worked (archive/customers/rowwork: parsed,
blind-indexed, sealed under fresh data keys), checked, and written in bulk with their keys; a
problem stops the writing, the checks go on to the end, and the refusal rolls back what was
written. One audit event as the acting user either way. Idempotent by customer code: a row whose code exists with the
same values (compared by the blind index of the row's canonical text, nothing decrypted) is
left alone; with changed values it is refused unless `update`, which applies the changes as
audited corrections.
"""

from __future__ import annotations

import csv
import functools
import gc
import io
import operator
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import NamedTuple

from sqlalchemy import Connection, Select, insert, select
from sqlalchemy.orm import Session

from archive.auditing import Auditor, PreparedEvent
from archive.customers.intake import (
    Candidate,
    DuplicateCheck,
    Findings,
    batch_row_of,
)
from archive.customers.models import INDEXED_FIELDS, Customer, CustomerReviewFlag
from archive.customers.repository import CustomerRepository
from archive.customers.rowwork import Keys, Sealing, Worked, parts, work
from archive.customers.service import CustomerRegistry, NewCustomer, index_kind, indexed_columns_many
from archive.customers.validation import PROFILE
from archive.datakeys import DataKey
from archive.db import Database, Pending, bulk_insert_columns, new_id, one_of, utcnow
from archive.errors import ArchiveError, FieldError
from archive.gate import CustomerGate, refuse
from archive.identity.models import Department, User
from archive.identity.principal import Principal
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Scope
from audit.events import AuditAction, Decision
from crypto.blind_index import BlindIndex
from crypto.envelope import FieldCipher
from crypto.keyring import KeyRing
from crypto.keystore import DekState

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
    new: NewCustomer
    worked: Worked
    department: DepartmentRef | None = None
    owner: UserRef | None = None
    existing: Customer | None = None

    @property
    def customer_id(self) -> uuid.UUID | None:  # given with the sealed columns to a clean row
        return self.worked.customer_id


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


class CustomerImporter:
    def __init__(self, db: Database, gate: CustomerGate, ring: KeyRing, index: BlindIndex) -> None:
        self.db = db
        self.gate = gate
        self.ring = ring
        self.index = index

    def run(self, principal: Principal, purpose: str | None, rows: Sequence[tuple[int, dict[str, str]]], *,
            auditor: Auditor, update: bool = False, dry_run: bool = False,
            progress: Progress | None = None) -> ImportReport:
        # One look at the blind-index keys for the whole file (a rotation mid-import waits).
        keys = Keys(self.index.pinned(), self.ring, HEADER)
        with _interpreter_tuned_for_import():
            return self._run(keys, principal, purpose, rows, auditor=auditor, update=update, dry_run=dry_run,
                             tick=progress or (lambda _phase, _done, _total: None))

    def _run(self, keys: Keys, principal: Principal, purpose: str | None,
             rows: Sequence[tuple[int, dict[str, str]]], *, auditor: Auditor, update: bool, dry_run: bool,
             tick: Progress) -> ImportReport:
        report = ImportReport(rows=len(rows), dry_run=dry_run)
        codes: dict[str, int] = {}  # code -> first line with it
        fresh: list[_Row] = []
        findings: list[Findings] = []
        changed: list[_Row] = []
        written: set[uuid.UUID] = set()
        # One transaction for everything, data keys included: they commit with the rows sealed
        # under them or not at all. The file is checked and written part by part, each part
        # against the register and the earlier parts; the first problem stops the writing (the
        # checks go on, so every bad row is reported) and `refuse` rolls back what was written.
        # On SQLite the write lock is held throughout, so nothing is registered in between.
        with self.db.unit_of_work() as uow:
            session = uow.session
            decision = self.gate.authorize_import(session, principal, purpose, auditor)
            directory = _Directory(session, principal)
            check = DuplicateCheck(session, self.index, own=written)
            done = 0
            writing = Pending()  # the previous part, still being inserted by the database
            sealing: Sealing | None = None
            event: PreparedEvent | None = None
            flags: list[dict[str, object]] | None = None
            try:
                for part in parts(rows):
                    worked, sealing = work(keys, part)  # meanwhile the database inserts the previous part
                    writing.wait()
                    parsed = self._parse(worked, report, codes)
                    self._resolve(directory, decision, parsed, report, written)
                    new = [r for r in parsed if r.existing is None]
                    findings += self._duplicates(check, new, report, offset=len(fresh), earlier=fresh)
                    fresh += new
                    changed += self._compare(parsed, report, update=update)
                    sealing.finish()  # the part was sealed meanwhile
                    if report.ok and not dry_run:
                        writing = self._insert(session, principal, new, sealing.sealed_columns)
                        written.update(r.customer_id for r in new if r.customer_id)
                    done += len(part)
                    tick("checked", done, len(rows))
                if report.ok and not dry_run:
                    # The last part may still be inserting: what needs no database is made meanwhile.
                    flags = self._flag_rows(fresh, findings)
                    ids = tuple(r.customer_id for r in fresh if r.customer_id)
                    report.created, report.updated = len(fresh), len(changed)
                    report.flagged = len({f["customer_id"] for f in flags})
                    event = auditor.prepare(
                        AuditAction.CUSTOMER_IMPORT, Decision.ALLOWED, resource_type="customer",
                        customer_ids=ids + tuple(r.existing.id for r in changed if r.existing),
                        purpose=decision.purpose.value if decision.purpose else "", categories=decision.categories,
                        reason=decision.reason, policy_rule=decision.rule_text, policy_version=decision.policy_version,
                        extra={"rows": str(len(rows)), "created": str(report.created), "updated": str(report.updated),
                               "unchanged": str(report.unchanged), "flagged": str(report.flagged)})
            except BaseException:
                try:
                    writing.settle()  # never roll back under a running insert; the first error wins
                finally:
                    if sealing is not None:
                        sealing.pending.settle()  # touches no database: only joined, its keys dropped
                raise
            writing.wait()
            if not report.ok:
                raise refuse(session, auditor, AuditAction.CUSTOMER_IMPORT, ImportRefused(_sorted(report)),
                             resource_type="customer", purpose=purpose or "", policy_version=decision.policy_version,
                             extra={"rows": str(len(rows)), "problems": str(len(report.problems))})
            if dry_run:
                report.created = len(fresh)
                uow.rollback()
                return report
            assert event is not None
            assert flags is not None
            registry = CustomerRegistry(CustomerRepository(session), FieldCipher(self.ring), self.index)
            for row in changed:
                self._correct(session, registry, principal, decision, row)
            if flags:
                session.execute(insert(CustomerReviewFlag), flags)
            auditor.write(session, event)
        tick("written", len(rows), len(rows))
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

    def _insert(self, session: Session, principal: Principal, rows: list[_Row], sealed_columns: list[str]) -> Pending:
        """New customers with their data keys, sealed already (archive/customers/rowwork), a
        column at a time. The database may still be inserting them when this returns (`Pending`)."""
        if not rows:
            return Pending()
        now = utcnow()
        connection = session.connection()
        worked = [r.worked for r in rows]
        ids = [w.customer_id for w in worked]
        # Only clean rows are written, and each has its id (compared by identity: UUID's == is Python).
        assert not any(map(operator.is_, ids, repeat(None)))
        n = len(rows)
        keys = bulk_insert_columns(connection, DataKey.__table__, {
            "customer_id": ids, "dek_version": [1] * n, "wrapped_key": [w.wrapped_key for w in worked],
            "kek_version": [w.kek_version for w in worked], "state": [DekState.ACTIVE.value] * n,
            "created_at": [now] * n}, wait=False)
        try:
            return self._insert_customers(connection, principal, rows, worked, ids, sealed_columns, now, after=keys)
        except BaseException:
            keys.settle()  # the keys' insert must not outlive a failure (the caller rolls back)
            raise

    @staticmethod
    def _insert_customers(connection: Connection, principal: Principal, rows: list[_Row], worked: list[Worked],
                          ids: list[uuid.UUID | None], sealed_columns: list[str], now: datetime, *,
                          after: Pending) -> Pending:
        assert not any(r.department is None for r in rows)  # a row without one was refused
        news = [r.new for r in rows]
        kinds = [new.kind for new in news]
        sealed = [w.sealed for w in worked]
        assert not any(map(operator.is_, sealed, repeat(None)))
        # The sealed columns, blind indexes and public name (rowwork), then the rest.
        columns: dict[str, list[object]] = indexed_columns_many(
            kinds, [new.name for new in news], [w.name_key for w in worked], sealed_columns,
            sealed, [w.indexes or {} for w in worked])  # type: ignore[arg-type]
        n = len(rows)
        columns.update({
            "id": ids, "code": [new.code for new in news], "kind": kinds,  # type: ignore[dict-item]
            "status": [new.status for new in news], "record_bidx": [w.fingerprint for w in worked],
            "department_id": [r.department.id if r.department else None for r in rows],
            "owner_id": [r.owner.id if r.owner else None for r in rows],
            "created_by": [principal.id] * n, "created_at": [now] * n, "updated_at": [now] * n, "version": [1] * n,
            "verification_status": ["unverified"] * n, "risk_level": ["unassessed"] * n})
        for column in PROFILE:  # a column no row has is left out by bulk_insert_columns
            columns[column] = [new.profile.get(column) for new in news]
        return bulk_insert_columns(connection, Customer.__table__, columns, wait=False, after=after)

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


_tuning_lock = threading.Lock()
_tuned = 0  # imports running now (the web server runs them in its threadpool)
_gc_was_enabled = False
_switch_interval = 0.0
IMPORT_SWITCH_INTERVAL = 0.0005  # seconds


@contextmanager
def _interpreter_tuned_for_import() -> Iterator[None]:
    """Two process-wide settings, changed while any import runs (counted: the first import to
    start changes them, the last to end puts them back as they were):

    - The cyclic garbage collector is paused. An import holds tens of thousands of live objects
      (its rows) that are not garbage: each full collection would walk all of them again,
      repeatedly, for nothing — a third of the import's time (bench/intake.py). Reference
      counting still frees everything.
    - The GIL switch interval drops from 5 ms to 0.5 ms. The database inserts each part in a
      background thread (archive.db.Pending) that needs the GIL back after every statement;
      with the importing thread busy, each hand-over waited up to a whole interval, and the
      inserts fell behind the work (6 % of the import, bench/intake.py). Threads of the web
      server take turns more often meanwhile, which costs them little and shortens their waits
      behind the import."""
    global _tuned, _gc_was_enabled, _switch_interval
    with _tuning_lock:
        if _tuned == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
            _switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_interval, IMPORT_SWITCH_INTERVAL))
        _tuned += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuned -= 1
            if _tuned == 0:
                sys.setswitchinterval(_switch_interval)
                if _gc_was_enabled:
                    gc.enable()


def _sorted(report: ImportReport) -> ImportReport:
    report.problems.sort(key=lambda p: (p.line, p.column))
    return report
