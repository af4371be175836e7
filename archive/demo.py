"""Demo data for `make demo`: departments, one staff user per role named after the role id,
and a customer login. Re-running it keeps the data and resets the demo passwords."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from archive.auditing import Auditor, system_actor
from archive.customers.models import Customer
from archive.customers.repository import CustomerRepository
from archive.customers.service import CustomerRegistry
from archive.db import Database, new_id
from archive.identity.models import User
from archive.identity.passwords import Passwords
from archive.identity.repository import IdentityRepository
from archive.identity.service import IdentityService, NewUser
from archive.vocabulary import Role
from audit.chain import integrate
from audit.events import AuditAction
from crypto.blind_index import BlindIndex
from crypto.envelope import FieldCipher
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


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛"]
COMPANIES = ["徐州华宇机械", "苏州恒通电子", "南京金陵建材", "无锡太湖纺织", "常州龙城化工", "上海申达物流",
             "杭州西湖茶业", "宁波港联贸易", "合肥科大软件", "济南泉城食品"]
CITIES = ["江苏省徐州市", "江苏省苏州市", "江苏省南京市", "浙江省杭州市", "上海市浦东新区"]


def seed_customers(db: Database, ring: KeyRing, index: BlindIndex, count: int = 60) -> int:
    """Customers across kinds, statuses and owners: `sales_rep` owns a third of them in SALES."""
    rng = random.Random(2026)  # noqa: S311  (demo data, not secrets)
    with db.unit_of_work() as uow:
        if uow.session.scalar(select(func.count()).select_from(Customer)):
            return 0
        users = {u: IdentityRepository(uow.session).user_by_username(u) for u in ("sales_rep", "department_head")}
        sales = IdentityRepository(uow.session).department_by_code("SALES")
        sales2 = IdentityRepository(uow.session).department_by_code("SALES2")
    if sales is None or sales2 is None or not all(users.values()):
        raise RuntimeError("seed the departments and demo users first")
    ids = [DEMO_CUSTOMER_ID] + [new_id() for _ in range(count - 1)]
    for customer_id in ids:  # each data key is committed before anything is sealed with it
        ring.dek_for_encrypt(customer_id)
    with db.unit_of_work() as uow:
        registry = CustomerRegistry(CustomerRepository(uow.session), FieldCipher(ring), index)
        for i, customer_id in enumerate(ids):
            individual = i % 3 == 0
            name = (rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)) if individual else \
                f"{COMPANIES[i % len(COMPANIES)]}有限公司{i // len(COMPANIES) or ''}"
            owner = users["sales_rep"] if i % 3 != 2 else users["department_head"]
            department = sales if i < count * 3 // 4 else sales2
            if department is sales2:
                owner = None
            registry.register(
                customer_id=customer_id, code=f"C-{2026_0000 + i}", kind="individual" if individual else "enterprise",
                department_id=department.id, owner_id=owner.id if owner else None,
                status=rng.choice(["potential", "target", "active", "active", "stagnant"]),
                profile={"industry": rng.choice(["制造", "贸易", "软件", "物流"]), "region": rng.choice(CITIES),
                         "size_class": rng.choice(["large", "medium", "small"])},
                sensitive={"name": name, "phone": f"13{rng.randint(100000000, 999999999)}",
                           "email": f"contact{i}@example.cn", "address": rng.choice(CITIES) + f"建设路{i}号",
                           "id_number": f"3203{rng.randint(10**13, 10**14 - 1)}",
                           "annual_volume": str(rng.choice([800_000, 3_000_000, 8_000_000, 20_000_000])),
                           "credit_rating": rng.choice(["AAA", "AA", "A", "BBB"]),
                           "cooperation_since": f"{rng.randint(2010, 2025)}-01-01"},
            )
        Auditor(system_actor("cli:demo")).record(uow.session, AuditAction.CUSTOMER_CREATE, resource_type="customer",
                                                 customer_ids=tuple(ids), reason="demo data")
    integrate(db.engine)
    return count


def _ensure(identity: IdentityService, new: NewUser, password: str) -> User:
    existing = identity.repo.user_by_username(new.username)
    if existing is None:
        return identity.add_user(new)
    identity.set_password(existing, password)
    if existing.disabled:
        identity.set_disabled(existing, False)
    return existing
