"""Demo customers and contracts: ~500 plausible Chinese companies, institutions and people across
sizes, statuses and the grading inputs (annual volume, credit rating, cooperation since), and a
contract ledger with some late hand-overs. Deterministic (seeded), fast, and sealed through the
same registry as real intake."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from archive.auditing import Auditor, system_actor
from archive.contracts.service import ContractLedger
from archive.customers.models import Customer
from archive.customers.registry import CustomerRegistry
from archive.customers.repository import CustomerRepository
from archive.datakeys import SqlKeyStore
from archive.db import Database, new_id
from archive.identity.models import Department, User
from archive.identity.repository import IdentityRepository
from audit.chain import integrate
from audit.events import AuditAction
from crypto.blind_index import BlindIndex
from crypto.envelope import FieldCipher
from crypto.keyring import KeyRing

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯欣怡婷雪琳晨"
CITIES = [("江苏省", "徐州市", "0516", "320302"), ("江苏省", "苏州市", "0512", "320505"),
          ("江苏省", "南京市", "025", "320102"), ("江苏省", "无锡市", "0510", "320213"),
          ("江苏省", "常州市", "0519", "320402"), ("上海市", "浦东新区", "021", "310115"),
          ("浙江省", "杭州市", "0571", "330106"), ("浙江省", "宁波市", "0574", "330203"),
          ("安徽省", "合肥市", "0551", "340104"), ("山东省", "济南市", "0531", "370102"),
          ("山东省", "青岛市", "0532", "370202"), ("湖北省", "武汉市", "027", "420106")]
BRANDS = ["华宇", "恒通", "金陵", "太湖", "龙城", "申达", "西湖", "港联", "科大", "泉城", "海天", "明珠", "长江",
          "东方", "瑞丰", "鼎盛", "宏达", "永安", "天成", "新纪元", "中联", "祥和", "博远", "汇丰源", "隆基", "正泰",
          "三友", "嘉禾", "百川", "安泰", "信达", "富华", "盛世", "金桥", "万通", "凯旋", "德润", "宝丰", "聚源",
          "和信"]
INDUSTRIES = [("机械", "制造"), ("电子", "制造"), ("建材", "建材"), ("纺织", "纺织"), ("化工", "化工"),
              ("物流", "物流"), ("茶业", "食品"), ("贸易", "贸易"), ("软件", "软件"), ("食品", "食品"),
              ("医药", "医药"), ("汽车配件", "制造"), ("包装", "制造"), ("家具", "制造"), ("环保科技", "服务")]
SUFFIXES = ["有限公司", "有限公司", "股份有限公司", "集团有限公司", "科技有限公司"]
INSTITUTIONS = ["第一人民医院", "职业技术学院", "自来水公司", "图书馆", "中心医院", "实验中学", "供电服务中心"]
ROADS = ["建设路", "解放路", "人民路", "中山路", "和平路", "淮海路", "长江路", "青年路", "新华路", "南京路"]
STATUSES = (["potential"] * 10 + ["target"] * 15 + ["active"] * 45 + ["stagnant"] * 15 + ["suspended"] * 10
            + ["ended"] * 5)
RATINGS = ["AAA"] * 2 + ["AA"] * 4 + ["A"] * 5 + ["BBB"] * 3 + ["BB"] * 2 + ["B"]
VOLUMES = [150_000, 420_000, 800_000, 999_999, 1_000_000, 2_600_000, 4_800_000, 5_000_000, 7_500_000,
           10_000_000, 10_000_001, 18_000_000, 32_000_000]


@dataclass(frozen=True, slots=True)
class Placement:
    department: Department
    owner: User | None


def _id_card(rng: random.Random, area: str) -> str:
    """A resident ID with a valid GB 11643 check digit (not a real person's)."""
    born = date(1960, 1, 1) + timedelta(days=rng.randint(0, 40 * 365))
    body = f"{area}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _credit_code(rng: random.Random, area: str) -> str:
    """A unified social credit code shape: 91 + area + 9 organisation characters + check."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return "91" + area + "".join(rng.choice(alphabet) for _ in range(10))


def _size(volume: int) -> str:
    return "large" if volume > 5_000_000 else "medium" if volume >= 500_000 else "small"


def customer_rows(rng: random.Random, count: int) -> list[dict[str, object]]:
    """Plain demo records; `slot` says where the customer goes (see `seed_customers`)."""
    rows: list[dict[str, object]] = []
    names: set[str] = set()
    while len(rows) < count:
        i = len(rows)
        province, city, area_code, area = rng.choice(CITIES)
        roll = rng.random()
        kind = "individual" if i == 0 or roll < 0.3 else "institution" if roll > 0.92 else "enterprise"
        if kind == "individual":
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            industry = rng.choice(["个人客户", "个体工商户"])
        elif kind == "institution":
            name = city.removesuffix("市").removesuffix("新区") + rng.choice(INSTITUTIONS)
            industry = "公共事业"
        else:
            word, industry = rng.choice(INDUSTRIES)
            name = city.removesuffix("市").removesuffix("新区") + rng.choice(BRANDS) + word + rng.choice(SUFFIXES)
        if name in names:
            continue
        names.add(name)
        volume = rng.choice(VOLUMES) if kind != "individual" else rng.choice(VOLUMES[:6])
        phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
        if kind != "individual" and rng.random() < 0.5:
            phone = f"{area_code}-{rng.randint(5_000_000, 8_999_999)}"
        row: dict[str, object] = {
            "kind": kind, "name": name, "status": "active" if i == 0 else rng.choice(STATUSES),
            "industry": industry, "region": f"{province}{city}", "size_class": _size(volume),
            "phone": phone, "email": f"c{i:04d}@{'example.cn' if kind == 'individual' else 'corp.example.cn'}",
            "address": f"{province}{city}{rng.choice(ROADS)}{rng.randint(1, 399)}号",
            "annual_volume": str(volume), "credit_rating": rng.choice(RATINGS),
            "cooperation_since": (date(2008, 1, 1) + timedelta(days=rng.randint(0, 18 * 365))).isoformat(),
            "bank_accounts": f"6222{rng.randint(10**11, 10**12 - 1)}",
            "credit_limit": str(rng.choice([0, 100_000, 500_000, 2_000_000])),
            "receivables": str(rng.choice([0, 0, 0, 35_000, 120_000, 860_000])),
        }
        if kind == "individual":
            row["id_number"] = _id_card(rng, area)
            if rng.random() < 0.5:
                row["savings"] = str(rng.choice([20_000, 150_000, 600_000, 1_200_000]))
                row["insurance_balances"] = str(rng.choice([0, 30_000, 250_000]))
        else:
            code = _credit_code(rng, area)
            row["id_number"], row["tax_number"] = code, code
        rows.append(row)
    return rows


def seed_customers(db: Database, ring: KeyRing, index: BlindIndex, *, first_id: uuid.UUID,
                   count: int = 500, policy_version: str = "") -> list[uuid.UUID]:
    """`sales_rep` owns a third of SALES (the department `department_head` heads), the head owns
    some, the rest of SALES and all of SALES2 belong to `sales_rep_2` or nobody yet."""
    rng = random.Random(2026)  # noqa: S311  (demo data, not secrets)
    with db.unit_of_work() as uow:
        if uow.session.scalar(select(func.count()).select_from(Customer)):
            return []
        repo = IdentityRepository(uow.session)
        users = {u: repo.user_by_username(u) for u in ("sales_rep", "department_head", "sales_rep_2")}
        sales, sales2 = repo.department_by_code("SALES"), repo.department_by_code("SALES2")
    if sales is None or sales2 is None or not all(users.values()):
        raise RuntimeError("seed the departments and demo users first")
    places = []
    for i in range(count):
        if i < count * 3 // 5:
            owner = users["sales_rep"] if i % 5 in (0, 1, 2) else users["department_head"] if i % 5 == 3 else None
            places.append(Placement(sales, owner))
        else:
            places.append(Placement(sales2, users["sales_rep_2"] if i % 4 else None))
    ids = [first_id] + [new_id() for _ in range(count - 1)]
    records = customer_rows(rng, count)
    with db.unit_of_work() as uow:  # each customer's data key is made in this transaction, and commits with it
        keys = ring.within(SqlKeyStore.within(uow.session))
        registry = CustomerRegistry(CustomerRepository(uow.session), FieldCipher(keys), index)
        for i, (customer_id, place, record) in enumerate(zip(ids, places, records, strict=True)):
            profile = {k: str(record.pop(k)) for k in ("industry", "region", "size_class")}
            kind, status = str(record.pop("kind")), str(record.pop("status"))
            registry.register(customer_id=customer_id, code=f"C-2026{i:05d}", kind=kind,
                              department_id=place.department.id,
                              owner_id=place.owner.id if place.owner else None, status=status, profile=profile,
                              sensitive={k: str(v) for k, v in record.items()})
        Auditor(system_actor("cli:demo"), policy_version=policy_version).record(
            uow.session, AuditAction.CUSTOMER_CREATE, resource_type="customer", customer_ids=tuple(ids),
            reason="demo data")
    integrate(db.engine)
    return ids


TITLES = ["年度供货合同", "设备采购合同", "技术服务协议", "物流运输合同", "原材料采购框架协议", "软件许可合同",
          "工程安装合同", "代理销售协议"]


def seed_contracts(db: Database, today: date, *, count: int = 80, policy_version: str = "") -> int:
    """Contracts of active SALES/SALES2 customers signed over the last two years; most hand-overs
    done in time, some late (never handed over, or stuck before the archive)."""
    rng = random.Random(7)  # noqa: S311
    made = 0
    with db.unit_of_work() as uow:
        session = uow.session
        customers = session.scalars(select(Customer).where(Customer.status.in_(("active", "stagnant")))
                                    .order_by(Customer.code).limit(count)).all()
        credit = IdentityRepository(session).user_by_username("credit_manager")
        ledger = ContractLedger(session)
        for n, customer in enumerate(customers):
            department = session.get(Department, customer.department_id)
            assert department is not None
            signed = today - timedelta(days=rng.randint(5, 700))
            contract = ledger.create(customer_id=customer.id, department=department, title=rng.choice(TITLES),
                                     signed_on=signed, handler_id=customer.owner_id, recorded_by=customer.owner_id)
            made += 1
            if n % 4 == 0 and signed + timedelta(days=120) < today:
                ledger.record_event(contract, "performed", signed + timedelta(days=rng.randint(60, 120)),
                                    customer.owner_id)
            for event in ledger.events(contract.id):
                if rng.random() < 0.12 or credit is None:  # about one in eight hand-overs is late
                    continue
                handed = event.occurred_on + timedelta(days=rng.randint(3, 25))
                if handed > today:
                    continue  # not due yet
                ledger.hand_over(event, handed, credit.id)
                archived = handed + timedelta(days=rng.randint(5, 25))
                if rng.random() > 0.1 and archived <= today:
                    ledger.archive(event, archived)
        Auditor(system_actor("cli:demo"), policy_version=policy_version).record(
            session, AuditAction.CONTRACT_CREATE, resource_type="contract", reason="demo data",
            extra={"contracts": str(made)})
    integrate(db.engine)
    return made
