"""The one place a customer's sealed fields are opened: against a grant, and shown as the
decision admits them (clear, masked or null). Called by the gate after the act's commit. Which
fields are sealed, and for which kinds of customer a name is public, is the policy's field
catalogue (policies/fields.yaml, in the decision's plan); the gate reads no customer model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from archive.gate.caller import CustomerRecord
from archive.policy.decision import PurposeDecision
from crypto.envelope import FieldCipher, FieldContext
from crypto.grants import Grant

_HEAD = ("code", "kind", "status")  # shown as they are, before the planned fields


class ShownCustomer(CustomerRecord, Protocol):
    """What the view reads of a loaded customer (`archive.customers.models.Customer` has it),
    besides what scope needs (`CustomerRecord`) and its sealed columns (`<field>_ct`)."""

    @property
    def status(self) -> str: ...

    @property
    def grade(self) -> str | None: ...

    @property
    def version(self) -> int: ...

    @property
    def public_name(self) -> str | None: ...


def _sealed(customer: ShownCustomer, name: str) -> bytes | None:
    column = name + "_ct"
    if not hasattr(customer, column):
        raise ValueError(f"{name} is not a sealed customer field")
    value: bytes | None = getattr(customer, column)
    return value


def _open(cipher: FieldCipher, grant: Grant, customer: ShownCustomer, name: str) -> str | None:
    sealed = _sealed(customer, name)
    if sealed is None:
        return None
    return cipher.decrypt(grant, FieldContext("customers", name, customer.id, customer.id), sealed).decode()


def customer_view(cipher: FieldCipher, grant: Grant, decision: PurposeDecision, customer: ShownCustomer,
                  clear: Mapping[str, str | None]) -> dict[str, object]:
    """Every field of the decision's plan: a sealed one opened when it is shown clear or
    masked for this customer's kind, never when omitted; public profile columns read as they
    are; `clear` (department code, owner username) filled in by the caller. A company's name is
    public registry data kept in clear (`public_name`) for the kinds the catalogue names."""
    kind = customer.kind
    values: dict[str, str | None] = {}
    for name, plan in (decision.fields or {}).items():
        if plan.encrypted:
            if plan.needs_plaintext(kind):
                values[name] = (customer.public_name if name == "name" and kind in plan.clear_for_kinds
                                and customer.public_name else _open(cipher, grant, customer, name))
        elif name in clear:
            values[name] = clear[name]
        elif hasattr(customer, name):
            values[name] = getattr(customer, name)
    shown = decision.render(values, kind)
    return {"id": str(customer.id), "code": customer.code, "kind": kind, "status": customer.status,
            "grade": customer.grade, "version": customer.version, **{k: v for k, v in shown.items() if k not in _HEAD}}


def open_customer_fields(cipher: FieldCipher, grant: Grant, customer: ShownCustomer,
                         fields: Sequence[str]) -> dict[str, str | None]:
    """Plaintext of the named sealed fields, for a run that computes on them."""
    return {name: _open(cipher, grant, customer, name) for name in fields}
