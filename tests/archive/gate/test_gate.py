"""The gate's API on a real database (SQLite and PostgreSQL): every refusal leaves exactly one
denied event and nothing of the refused act; a grant exists only once the act's allowed event
is committed; aggregate and system grants are audited like reads."""

from __future__ import annotations

import uuid

import pytest

from archive.auditing import Auditor, system_actor
from archive.customers.models import Customer, CustomerStatusChange
from archive.customers.repository import CustomerRepository
from archive.errors import ArchiveError, BadRequest, Conflict, Forbidden, NotFound
from archive.gate import Admission, Caller, GrantPending
from archive.vocabulary import Action
from audit.events import AuditAction
from crypto.grants import NotGranted
from tests.archive.gate.small import PHONE, Setup, setup

__all__ = ["setup"]  # the fixture, shared with tests/archive/customers


def _read(setup: Setup, caller: Caller, customer_id: uuid.UUID) -> tuple[Admission, Customer]:
    with setup.ctx.db.unit_of_work() as uow:
        decision = setup.gate.decide(uow, caller, Action.CUSTOMER_READ, customer_id=customer_id)
        customer = setup.gate.check_scope(uow, caller, decision, CustomerRepository(uow.session).get(customer_id))
        admission = setup.gate.admit(uow, caller, decision, [customer.id], resource_id=str(customer.id))
        assert not admission.granted
        with pytest.raises(GrantPending):
            _ = admission.grant
        with pytest.raises(GrantPending):  # nothing is opened before the event is durable
            setup.gate.reveal(admission, customer, clear={})
    return admission, customer


# --- grants ------------------------------------------------------------------------------------


def test_a_read_grant_exists_only_once_the_event_is_committed(setup: Setup) -> None:
    caller = setup.caller("rep")
    admission, customer = _read(setup, caller, setup.own)
    assert admission.granted
    shown = setup.gate.reveal(admission, customer, clear={"department": "SALES", "owner": "rep"})
    assert shown["phone"] == PHONE and shown["owner"] == "rep"
    assert shown["id_number"] != "320302198001010015" and str(shown["id_number"]).endswith("0015")  # masked
    assert setup.events(caller) == [("customer.read", "allowed", str(setup.events(caller)[0][2]))]


def test_a_read_grant_opens_only_its_customers_and_fields(setup: Setup) -> None:
    admission, _ = _read(setup, setup.caller("rep"), setup.own)
    with pytest.raises(NotGranted):  # another customer
        setup.gate.reveal(admission, setup.customer(setup.other), clear={})
    with pytest.raises(NotGranted):  # a field sales follow-up does not admit (credit data)
        setup.gate.open_fields(admission, setup.customer(setup.own), ["credit_rating"])


def test_a_rolled_back_act_leaves_neither_grant_nor_event(setup: Setup) -> None:
    caller = setup.caller("rep")
    admitted: list[Admission] = []

    def act() -> None:
        with setup.ctx.db.unit_of_work() as uow:
            decision = setup.gate.decide(uow, caller, Action.CUSTOMER_READ, customer_id=setup.own)
            admitted.append(setup.gate.admit(uow, caller, decision, [setup.own]))
            raise RuntimeError("the act failed after the decision")

    with pytest.raises(RuntimeError, match="after the decision"):
        act()
    [admission] = admitted
    assert not admission.granted
    with pytest.raises(GrantPending):
        _ = admission.grant
    assert setup.events(caller) == []


# --- refusals: one denied event each, nothing of the act ------------------------------------------


def _refused_status_step(setup: Setup, caller: Caller, refusal: str) -> None:
    """A lifecycle step on `own` that writes first (status and its history row), then meets the
    refusal named."""
    gate = setup.gate
    with setup.ctx.db.unit_of_work() as uow:
        repo = CustomerRepository(uow.session)
        customer = repo.get(setup.own if refusal != "scope" else setup.other)
        assert customer is not None
        customer.status = "stagnant"
        repo.add_history(CustomerStatusChange(customer_id=customer.id, from_status="active", to_status="stagnant",
                                              reason="written before the refusal", changed_by=caller.principal.id))
        decision = gate.decide(uow, caller, Action.CUSTOMER_STATUS, customer_id=customer.id)
        if refusal == "missing":
            gate.check_scope(uow, caller, decision, None)
        gate.check_scope(uow, caller, decision, customer)
        if refusal == "fields":
            gate.check_fields(uow, caller, decision, customer, ["phone", "id_number"])  # the ID is masked
        if refusal == "service":
            raise gate.refuse(caller, decision, Conflict("a rule of the service says no"), customer_id=customer.id)
        raise AssertionError("not refused")


REFUSALS = {  # name -> (who, purpose, error type, status)
    "no purpose": ("rep", None, BadRequest, 400),
    "unknown purpose": ("rep", "curiosity", BadRequest, 400),
    "purpose the role may not use": ("rep", "audit", Forbidden, 403),
    "action the purpose does not permit": ("rep", "advisory", Forbidden, 403),
    "scope": ("rep", "sales_followup", Forbidden, 403),
    "missing": ("rep", "sales_followup", NotFound, 404),
    "fields": ("rep", "sales_followup", Forbidden, 403),
    "service": ("rep", "sales_followup", Conflict, 409),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_each_refusal_writes_one_denied_event_and_nothing_else(setup: Setup, refusal: str) -> None:
    who, purpose, error_type, status = REFUSALS[refusal]
    caller = setup.caller(who, purpose)
    target = setup.other if refusal == "scope" else setup.own
    before = setup.customer(target)
    history = setup.history_rows(target)
    with pytest.raises(error_type) as raised:
        _refused_status_step(setup, caller, refusal)
    assert raised.value.status == status
    assert [(a, d) for a, d, _ in setup.events(caller)] == [("customer.status", "denied")]
    after = setup.customer(target)
    assert (after.status, after.version) == (before.status, before.version)
    assert setup.history_rows(target) == history


def test_the_scope_refusal_points_a_borrower_to_the_loan_form(setup: Setup) -> None:
    caller = setup.caller("rep")
    with pytest.raises(Forbidden, match="POST /api/v1/loans"):
        _read(setup, caller, setup.other)
    assert [d for _, d, _ in setup.events(caller)] == ["denied"]


def test_staff_asking_for_their_own_record_get_404(setup: Setup) -> None:
    caller = setup.caller("rep", None)
    with pytest.raises(NotFound), setup.ctx.db.unit_of_work() as uow:
        setup.gate.decide_self(uow, caller)
    assert [(a, d) for a, d, _ in setup.events(caller)] == [("customer.read", "denied")]


def test_the_access_log_is_read_under_audit_by_those_who_may(setup: Setup) -> None:
    officer, rep = setup.caller("officer", "audit"), setup.caller("rep", "audit")
    with setup.ctx.db.unit_of_work() as uow:
        setup.gate.authorize_log(uow, officer, AuditAction.AUDIT_READ)
    with pytest.raises(Forbidden), setup.ctx.db.unit_of_work() as uow:
        setup.gate.authorize_log(uow, rep, AuditAction.AUDIT_READ)
    assert [d for _, d, _ in setup.events(officer)] == ["allowed"]
    assert [d for _, d, _ in setup.events(rep)] == ["denied"]


# --- aggregate and system grants --------------------------------------------------------------------


def test_an_aggregate_grant_opens_the_declared_fields_and_is_audited(setup: Setup) -> None:
    caller = setup.caller("head", "grading")
    with setup.ctx.db.unit_of_work() as uow:
        decision = setup.gate.decide(uow, caller, Action.CUSTOMER_LIST)
        admission = setup.gate.aggregate(uow, caller, decision, [setup.own], ["annual_volume", "credit_rating"],
                                         resource_type="grading_run", resource_id="run-1")
        with pytest.raises(GrantPending):
            _ = admission.grant
    customer = setup.customer(setup.own)
    assert setup.gate.open_fields(admission, customer, ["annual_volume", "credit_rating"]) == {
        "annual_volume": "2500000", "credit_rating": "AA"}
    with pytest.raises(NotGranted):  # declared fields only
        setup.gate.open_fields(admission, customer, ["phone"])
    with pytest.raises(NotGranted):  # named customers only
        setup.gate.open_fields(admission, setup.customer(setup.other), ["annual_volume"])
    [(action, decision_made, extra)] = setup.events(caller)
    assert (action, decision_made) == ("customer.list", "allowed") and "aggregate" in extra


def test_an_aggregate_run_may_not_declare_what_its_purpose_does_not_admit(setup: Setup) -> None:
    caller = setup.caller("head", "grading")

    def declare() -> None:
        with setup.ctx.db.unit_of_work() as uow:
            decision = setup.gate.decide(uow, caller, Action.CUSTOMER_LIST)
            setup.gate.aggregate(uow, caller, decision, [setup.own], ["annual_volume", "phone"],
                                 resource_type="grading_run")

    with pytest.raises(Forbidden, match="phone"):
        declare()
    assert [d for _, d, _ in setup.events(caller)] == ["denied"]


def test_a_system_grant_is_for_the_system_actor_and_audited(setup: Setup) -> None:
    system = Auditor(system_actor("cli:keys rewrap"), f"test-{uuid.uuid4().hex}")
    with setup.ctx.db.unit_of_work() as uow:
        admission = setup.gate.system(uow, system, AuditAction.KEY_REWRAPPED, reason="rewrap under the new KEK")
    report = setup.ctx.key_ring.rewrap(admission.grant)
    assert not report.failed
    [(action, decided, extra)] = setup.events(system)
    assert (action, decided) == ("key.rewrapped", "allowed") and "system" in extra
    user = setup.caller("officer").auditor
    with pytest.raises(Forbidden), setup.ctx.db.unit_of_work() as uow:
        setup.gate.system(uow, user, AuditAction.KEY_REWRAPPED, reason="not for users")
    assert [d for _, d, _ in setup.events(user)] == ["denied"]


def test_refusals_are_archive_errors_that_carry_their_event() -> None:
    from archive.gate import deny

    error = deny(Auditor(system_actor("test")), AuditAction.CUSTOMER_IMPORT, Forbidden("no"))
    assert isinstance(error, ArchiveError) and error.outlives_rollback is not None
