"""The governance gate: the one access decision. It decides role, purpose and scope for a
record the service loaded, writes the audit event of every decision (allowed or denied), and
mints the `Grant` without which nothing in `crypto/` opens plaintext. It holds no domain rules
and runs no SQL of its own: it imports no area's repository, and what it must know about a
record (or about the caller's open break-glass) it is handed by the service.

One `Gate` per process (`service/context.py` builds it): it creates the process's only
`GrantAuthority`, makes the key ring trust it (`KeyRing.trust`), and builds the `FieldCipher`
and `BlobCipher` that open plaintext. Nothing outside `archive/gate/` mints.

    gate = Gate(policy, ring, lookup=audit_lookup)

A service method, the whole of a governed read (`uow` is an un-entered `UnitOfWork`; the
service owns the transaction, the gate writes into it):

    caller = Caller(principal, auditor, purpose=x_purpose)
    with uow:                                              # one transaction, one commit
        decision = gate.decide(uow, caller, Action.CUSTOMER_READ, customer_id=cid,
                               break_glass=open_break_glass)          # steps 2 and 3
        customer = gate.check_scope(uow, caller, decision, repo.get(cid))  # step 4 (None -> 404)
        clear = {"department": ..., "owner": ...}          # looked up by the service
        admission = gate.admit(uow, caller, decision, [customer.id],
                               resource_id=str(customer.id))           # the allowed event
    return gate.reveal(admission, customer, clear=clear)   # step 5, after the commit

Order of checks (API.md): authentication (done before) → `decide`: the purpose missing or
unknown (400, naming the purposes the caller may use) → the purpose the role may not use or
that does not fit the act (403; a compliance officer is pointed to break-glass) →
`check_scope`: the customer outside the caller's scope (403 with the loan pointer for staff
who could borrow, else 404) → per field (`reveal`): what the purpose does not admit is masked
or omitted, never decrypted; `check_content` for a document's content (403 when the purpose
does not admit its kind).

Refusals. Every refusal raises an `ArchiveError` whose `outlives_rollback` writes exactly one
`denied` event: the unit of work rolls the refused act back, writes and commits the event,
and raises the error on. So each gate call that can refuse must run inside `with uow:`.
`gate.refuse(caller, decision, error, customer_id=...)` does the same for a refusal a service
decides on its own rules after the gate admitted the act (a duplicate ID number); the
module-level `deny(auditor, action, error, **details)` for one with no purpose decision (a
break-glass opened by the wrong role, an import with bad rows).

Grants. `Admission.grant` exists only after the unit of work has committed the allowed event
(`uow.after_commit`); asked for earlier, or after a rollback, it raises `GrantPending`.

- `admit(uow, caller, decision, customer_ids, *, resource_type="customer", resource_id="",
  opens=None, **event_details) -> Admission` — a read grant for those customers, opening
  `opens` (`table.column`, e.g. `("documents.content",)`; default every `customers.<field>`
  the decision admits). `event_details` go to the event (`fields`, `extra`, `lookup_hmacs`).
  Acts that open nothing (a contract's ledger entry) call it too and ignore the grant.
- `aggregate(uow, caller, decision, customer_ids, fields, *, resource_type, resource_id="")
  -> Admission` — a report or grading run: the declared customer `fields` (plain names),
  each admitted in clear by the decision (else 403, audited), opened to compute, never
  returned; `open_fields(admission, customer, fields)` gives their plaintext.
- `system(uow, auditor, action, *, reason, resource_type="data_keys") -> Admission` — key
  rotation and rewrap: every customer and field, only for a system actor (`system_actor()`),
  audited under `action` (`key.rotated`, `key.rewrapped`). The CLI passes `admission.grant`
  to `KeyRing.rewrap(grant, ...)`, `FieldCipher.reseal(grant, ...)`, `BlobCipher.reseal`.

The rest of the API (each refusal audited as above):

- `decide(uow, caller, action, *, customer_id=None, break_glass=None, resource_type="customer",
  resource_id=None) -> PurposeDecision` — `break_glass(user_id, customer_id) -> bool` is asked
  only when the standard decision refuses and the policy admits the act via break-glass.
- `decide_self(uow, caller, action=Action.CUSTOMER_READ)` — `/me`: implied purpose; 404 for
  anyone but a customer login bound to a record.
- `check_scope(uow, caller, decision, customer | None, *, missing="No such customer.",
  resource_type="customer", resource_id=None) -> customer` (the record the service loaded,
  once it is in scope); `in_scope(caller, decision, customer) -> bool`
  and `could_read(caller, decision, customer) -> bool` ask without an event (search matches,
  whether a duplicate may be named).
- `check_content(uow, caller, decision, *, kind, category, document_id, customer_id)`,
  `content_admitted(decision, kind) -> bool`.
- `check_fields(uow, caller, decision, customer, fields)` — a correction touches only fields
  the purpose shows in clear.
- `authorize_log(uow, caller, action)` — the access log: purpose `audit`, for the roles that
  may state it; writes the allowed event.
- `reveal(admission, customer, *, clear) -> dict` — the customer as the decision shows it;
  `open_content(admission, document_id, customer_id, source, *, size, sha256) -> BlobReader`.
- `lookup_tokens(kind, value)` — what a search's event keeps of the value (`lookup_hmacs`).
- `field_cipher`, `blob_cipher` — to seal with (sealing needs no grant).

`Caller(principal, auditor, purpose)` is who asks and why (`service/deps.py` gives routers
`CurrentCaller`); `CustomerRecord` is what the gate reads of a loaded customer (`id`, `code`,
`kind`, `owner_id`, `department_id`; `Customer` has them).
"""

from archive.gate.access import Gate
from archive.gate.admission import Admission, GrantPending
from archive.gate.caller import BreakGlassLookup, Caller, CustomerRecord
from archive.gate.refusal import BREAK_GLASS_POINTER, LOAN_POINTER, deny

__all__ = ["BREAK_GLASS_POINTER", "LOAN_POINTER", "Admission", "BreakGlassLookup", "Caller", "CustomerRecord",
           "Gate", "GrantPending", "deny"]
