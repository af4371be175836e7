"""Demo data for `make demo`: departments, one staff user per role named after the role id,
and a customer login. Re-running it keeps the data and resets the demo passwords."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from archive.auditing import Auditor, system_actor
from archive.blobs import BlobStore
from archive.customers.models import Customer
from archive.db import Database
from archive.identity.models import User
from archive.identity.passwords import Passwords
from archive.identity.repository import IdentityRepository
from archive.identity.service import IdentityService, NewUser
from archive.vocabulary import Role
from audit.chain import integrate
from audit.events import AuditAction
from crypto.blind_index import BlindIndex
from crypto.keyring import KeyRing

DEPARTMENTS = {
    "SALES": "销售一部 Sales",
    "SALES2": "销售二部 Sales II",
    "CREDIT": "信用管理部 Credit management",
    "FIN": "总财务科 Finance",
    "ARCH": "档案室 Archive",
    "MKT": "促销科 Marketing",
    "CS": "客户服务中心 Customer service",
    "CRM": "客户关系管理部 CRM",
    "AUDIT": "监督小组 Compliance",
    "GM": "总经理室 General management",
    "IT": "信息技术部 IT",
}

ROLE_DEPARTMENT = {
    Role.SALES_REP: "SALES", Role.DEPARTMENT_HEAD: "SALES", Role.CREDIT_MANAGER: "CREDIT",
    Role.FINANCE: "FIN", Role.ARCHIVIST: "ARCH", Role.CRM_MANAGER: "CRM", Role.MARKETING: "MKT",
    Role.CUSTOMER_SERVICE: "CS", Role.COMPLIANCE_OFFICER: "AUDIT", Role.GENERAL_MANAGER: "GM",
    Role.ADMIN: "IT",
}

# The demo customer login is bound to this record (the first demo customer, an individual).
DEMO_CUSTOMER_ID = uuid.UUID("0190a000-0000-7000-8000-000000000001")


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    roles: list[str]
    department: str | None


def seed(db: Database, passwords: Passwords, password: str, *, policy_version: str = "") -> list[DemoLogin]:
    """Departments and one login per role; `policy_version` is named in the audit event."""
    logins: list[DemoLogin] = []
    with db.unit_of_work() as uow:
        identity = IdentityService(IdentityRepository(uow.session), passwords)
        for code, name in DEPARTMENTS.items():
            if identity.repo.department_by_code(code) is None:
                identity.add_department(code, name)
        for role, department in ROLE_DEPARTMENT.items():
            _ensure(identity, NewUser(username=role.value, display_name=role.value.replace("_", " ").title(),
                                      password=password, roles=[role.value], department_code=department), password)
            logins.append(DemoLogin(role.value, [role.value], department))
        # A second rep, in the other sales department, so that not every customer is sales_rep's.
        _ensure(identity, NewUser(username="sales_rep_2", display_name="Sales Rep 2", password=password,
                                  roles=[Role.SALES_REP.value], department_code="SALES2"), password)
        logins.append(DemoLogin("sales_rep_2", [Role.SALES_REP.value], "SALES2"))
        Auditor(system_actor("cli:demo"), policy_version=policy_version).record(
            uow.session, AuditAction.SYSTEM_SEEDED, resource_type="demo", extra={"users": str(len(logins) + 1)})
        _ensure(identity, NewUser(username="customer", display_name="Demo customer", password=password,
                                  roles=[Role.CUSTOMER.value], kind="customer", customer_id=DEMO_CUSTOMER_ID),
                password)
        logins.append(DemoLogin("customer", [Role.CUSTOMER.value], None))
    integrate(db.engine)
    return logins


def seed_customers(db: Database, ring: KeyRing, index: BlindIndex, count: int = 500, *,
                   policy_version: str = "") -> int:
    """~500 customers (archive/demo_customers.py); the first is the demo customer login's record."""
    from archive.demo_customers import seed_customers as seed

    return len(seed(db, ring, index, first_id=DEMO_CUSTOMER_ID, count=count, policy_version=policy_version))


def seed_documents(db: Database, ring: KeyRing, blob_store: BlobStore, today: date) -> int:
    """Documents of every kind for the demo customer and three more of sales_rep's customers."""
    from archive.documents.demo import seed_documents as seed

    with db.unit_of_work() as uow:
        rep = IdentityRepository(uow.session).user_by_username("sales_rep")
        if rep is None:
            return 0
        others = uow.session.scalars(select(Customer.id).where(Customer.owner_id == rep.id, Customer.id !=
                                                                DEMO_CUSTOMER_ID).order_by(Customer.code).limit(3))
        ids = [DEMO_CUSTOMER_ID, *others]
    return seed(db, ring, blob_store, ids, uploaded_by=rep.id, today=today)


def seed_contracts(db: Database, today: date, *, policy_version: str = "") -> int:
    from archive.demo_customers import seed_contracts as seed

    return seed(db, today, policy_version=policy_version)


def _ensure(identity: IdentityService, new: NewUser, password: str) -> User:
    existing = identity.repo.user_by_username(new.username)
    if existing is None:
        return identity.add_user(new)
    identity.set_password(existing, password)
    if existing.disabled:
        identity.set_disabled(existing, False)
    return existing
