"""Gate decision benchmarks (API.md "Benchmarks"): the median cost of one full access decision —
policy, scope/ownership, purpose -> categories, the field plan (which fields to open and how to
show them); no database — with the decision cache warm and cold, next to a bare pycasbin
`enforcer.enforce` on the same shipped policy; and the cold decision again on a generated
policy of 10,000 rules (200 roles x 10 purposes x 5 actions). Windows alternate between the
baseline and ours, and each figure is the median over the rounds."""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from _common import median_time, record

from archive.policy import PolicyEngine, Relation, evaluate_scope
from archive.policy.engine import load_enforcer
from archive.vocabulary import Action, Purpose, Role

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REPEAT = 5
Cell = tuple[frozenset[str], Action, Purpose, Relation, str]  # roles, action, purpose, relation, customer kind

# A mix of what the HTTP layer asks: allowed in scope, allowed out of scope, denied.
SHIPPED_CELLS: list[Cell] = [
    (frozenset({Role.SALES_REP}), Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP, Relation(owner=True), "individual"),
    (frozenset({Role.SALES_REP}), Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP, Relation(), "enterprise"),
    (frozenset({Role.DEPARTMENT_HEAD}), Action.CUSTOMER_LIST, Purpose.CUSTOMER_SERVICE,
     Relation(same_department=True), "enterprise"),
    (frozenset({Role.FINANCE}), Action.DOCUMENT_CONTENT_READ, Purpose.CREDIT_REVIEW, Relation(), "enterprise"),
    (frozenset({Role.CREDIT_MANAGER}), Action.CUSTOMER_READ, Purpose.COLLECTION,
     Relation(loan_purposes=frozenset({"collection"})), "individual"),
    (frozenset({Role.CUSTOMER_SERVICE}), Action.CUSTOMER_SEARCH, Purpose.CUSTOMER_SERVICE, Relation(), "individual"),
    (frozenset({Role.ARCHIVIST}), Action.DOCUMENT_CONTENT_READ, Purpose.ARCHIVE_MAINTENANCE, Relation(), "individual"),
    (frozenset({Role.MARKETING}), Action.CUSTOMER_READ, Purpose.CREDIT_REVIEW, Relation(), "individual"),
]

GEN_ROLES = [f"role_{i:03d}" for i in range(200)]
GEN_PURPOSES = list(Purpose)[:10]
GEN_ACTIONS = list(Action)[:5]
GEN_SCOPES = ["own", "department", "all", "loan", "metadata"]


def full_decision(engine: PolicyEngine, cell: Cell) -> object:
    """What the gate does per request before touching the database's ciphertext."""
    roles, action, purpose, relation, kind = cell
    decision = engine.decide(roles, action, purpose)
    if not decision.allowed:
        return decision.outcome
    scope = evaluate_scope(decision, relation)
    if not scope.in_scope:
        return scope.verdict
    plan = decision.fields or {}
    return [name for name, field in plan.items() if field.needs_plaintext(kind)], decision.categories


def generate_10k(target: Path) -> Path:
    """The shipped model and catalogues with 10,000 generated allow rules."""
    shipped = PolicyEngine().path
    target.mkdir(parents=True)
    for name in ("model.conf", "fields.yaml", "document_kinds.yaml"):
        shutil.copy(shipped / name, target / name)
    purposes = yaml.safe_load((shipped / "purposes.yaml").read_text(encoding="utf-8"))
    for purpose, entry in purposes["purposes"].items():
        entry["roles"] = GEN_ROLES if purpose in GEN_PURPOSES else []
    (target / "purposes.yaml").write_text(yaml.safe_dump(purposes, allow_unicode=True), encoding="utf-8")
    scopes = itertools.cycle(GEN_SCOPES)
    lines = [f"p, {role}, {purpose}, {action}, standard, {next(scopes)}, allow"
             for role, purpose, action in itertools.product(GEN_ROLES, GEN_PURPOSES, GEN_ACTIONS)]
    (target / "allow.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def cycling(cells: list[Cell], fn: Callable[[Cell], object]) -> Callable[[], object]:
    it: Iterator[Cell] = itertools.cycle(cells)
    return lambda: fn(next(it))


def main() -> None:
    shipped = PolicyEngine()
    bare_enforcer = load_enforcer(shipped.path, shipped.rows)
    with tempfile.TemporaryDirectory() as tmp:
        big = PolicyEngine(generate_10k(Path(tmp) / "policies"))
    assert sum(1 for r in big.rows if r.ptype == "p") == 10_000
    gen_cells: list[Cell] = [
        (frozenset({GEN_ROLES[(i * 37) % 200]}), GEN_ACTIONS[i % 5], GEN_PURPOSES[(i * 3) % 10],
         Relation(owner=i % 2 == 0), "individual") for i in range(len(SHIPPED_CELLS))]
    for engine, cells in ((shipped, SHIPPED_CELLS), (big, gen_cells)):
        assert any(engine.decide(c[0], c[1], c[2]).allowed for c in cells)

    def bare(cell: Cell) -> object:
        roles, action, purpose, _, _ = cell
        return bare_enforcer.enforce(next(iter(roles)), purpose, action, "standard")

    def cold(engine: PolicyEngine) -> Callable[[Cell], object]:
        def run(cell: Cell) -> object:
            engine.clear_cache()
            return full_decision(engine, cell)
        return run

    samples: dict[str, list[float]] = {"bare": [], "warm": [], "cold": [], "cold_10k": []}
    for _ in range(ROUNDS):
        samples["bare"].append(median_time(cycling(SHIPPED_CELLS, bare), repeat=REPEAT, number=40))
        samples["warm"].append(median_time(cycling(SHIPPED_CELLS, lambda c: full_decision(shipped, c)),
                                           repeat=REPEAT, number=20_000))
        samples["cold"].append(median_time(cycling(SHIPPED_CELLS, cold(shipped)), repeat=REPEAT, number=4_000))
        samples["cold_10k"].append(median_time(cycling(gen_cells, cold(big)), repeat=REPEAT, number=4_000))
    us = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    big_bare = big.enforcer
    assert big_bare is not None
    bare_10k = median_time(cycling(gen_cells, lambda c: big_bare.enforce(next(iter(c[0])), c[2], c[1], "standard")),
                           repeat=3, number=5) * 1e6
    n = ROUNDS * REPEAT
    print(f"policy {shipped.version}: {sum(1 for r in shipped.rows if r.ptype == 'p')} rules; "
          f"bare enforce {us['bare']:.1f} us (on 10,000 rules: {bare_10k:.0f} us)")
    record("gate.decision_warm", value=us["warm"], unit="us", baseline="bare enforcer.enforce, shipped policy",
           baseline_value=us["bare"], ratio=us["warm"] / us["bare"], target="<= 0.25", n=n)
    record("gate.decision_cold", value=us["cold"], unit="us", baseline="bare enforcer.enforce, shipped policy",
           baseline_value=us["bare"], ratio=us["cold"] / us["bare"], target="<= 3", n=n)
    record("gate.cold_10k_growth", value=us["cold_10k"], unit="us", baseline="our cold decision, shipped policy",
           baseline_value=us["cold"], ratio=us["cold_10k"] / us["cold"], target="<= 3", n=n)


if __name__ == "__main__":
    main()
