"""Demo data for `make demo`: departments, one staff user per role named after the role id,
and a customer login. Re-running it keeps the data and resets the demo passwords."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from archive.auditing import Auditor, system_actor
from archive.db import Database
from archive.identity.models import User
from archive.identity.passwords import Passwords
from archive.identity.repository import IdentityRepository
from archive.identity.service import IdentityService, NewUser
from archive.vocabulary import Role
from audit.chain import integrate
from audit.events import AuditAction

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

# Until the customer register exists, the demo customer login is bound to this fixed id.
DEMO_CUSTOMER_ID = uuid.UUID("0190a000-0000-7000-8000-000000000001")


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    roles: list[str]
    department: str | None


def seed(db: Database, passwords: Passwords, password: str) -> list[DemoLogin]:
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
        Auditor(system_actor("cli:demo")).record(uow.session, AuditAction.SYSTEM_SEEDED, resource_type="demo",
                                                 extra={"users": str(len(logins) + 1)})
        _ensure(identity, NewUser(username="customer", display_name="Demo customer", password=password,
                                  roles=[Role.CUSTOMER.value], kind="customer", customer_id=DEMO_CUSTOMER_ID),
                password)
        logins.append(DemoLogin("customer", [Role.CUSTOMER.value], None))
    integrate(db.engine)
    return logins


def _ensure(identity: IdentityService, new: NewUser, password: str) -> User:
    existing = identity.repo.user_by_username(new.username)
    if existing is None:
        return identity.add_user(new)
    identity.set_password(existing, password)
    if existing.disabled:
        identity.set_disabled(existing, False)
    return existing
