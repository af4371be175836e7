"""The one place a customer's sealed fields are opened: against a grant, and shown as the
decision admits them (clear, masked or null). Called by the gate after the act's commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from archive.customers.models import PUBLIC_NAME_KINDS, SEALED_FIELDS, Customer
from archive.policy.decision import PurposeDecision
from crypto.envelope import FieldCipher, FieldContext
from crypto.grants import Grant

_SEALED = frozenset(SEALED_FIELDS)
_SEALED_COLUMN = {name: name + "_ct" for name in SEALED_FIELDS}
_HEAD = ("code", "kind", "status")  # shown as they are, before the planned fields


def _open(cipher: FieldCipher, grant: Grant, customer: Customer, name: str) -> str | None:
    customer_id = customer.id
    sealed: bytes | None = getattr(customer, _SEALED_COLUMN[name])
    if sealed is None:
        return None
    return cipher.decrypt(grant, FieldContext("customers", name, customer_id, customer_id), sealed).decode()


def customer_view(cipher: FieldCipher, grant: Grant, decision: PurposeDecision, customer: Customer,
                  clear: Mapping[str, str | None]) -> dict[str, object]:
    """Every field of the decision's plan: opened when it is shown clear or masked for this
    customer's kind, never when omitted; public profile columns read as they are; `clear`
    (department code, owner username) filled in by the caller."""
    kind = customer.kind
    values: dict[str, str | None] = {}
    for name, plan in (decision.fields or {}).items():
        if name in _SEALED:
            if plan.needs_plaintext(kind):
                values[name] = _open(cipher, grant, customer, name)
        elif name in clear:
            values[name] = clear[name]
        elif hasattr(customer, name):
            values[name] = getattr(customer, name)
    if customer.public_name and kind in PUBLIC_NAME_KINDS:
        values["name"] = customer.public_name  # a company's name is public registry data, kept in clear
    shown = decision.render(values, kind)
    return {"id": str(customer.id), "code": customer.code, "kind": kind, "status": customer.status,
            "grade": customer.grade, "version": customer.version, **{k: v for k, v in shown.items() if k not in _HEAD}}


def open_customer_fields(cipher: FieldCipher, grant: Grant, customer: Customer,
                         fields: Sequence[str]) -> dict[str, str | None]:
    """Plaintext of the named sealed fields, for a run that computes on them."""
    unknown = [f for f in fields if f not in _SEALED]
    if unknown:
        raise ValueError(f"not sealed customer fields: {', '.join(unknown)}")
    return {name: _open(cipher, grant, customer, name) for name in fields}
