"""The governance gate: the one place that decides access to customer data and to the access
log, and writes the event for every decision — allowed or denied — before anything is shown.

Order of checks (API.md): authentication (done before) → purpose missing or unknown (400,
naming the purposes the caller may use) → purpose the role may not use or that does not fit
the endpoint (403; a compliance officer is pointed to break-glass) → the customer outside the
caller's scope (403 with the loan pointer for staff who could borrow, else 404) → per field:
what the purpose does not admit is masked or omitted, never decrypted. Every refusal from the
purpose step on is an audit event, committed before the error is raised; an allowed read's
event is committed before any plaintext leaves, and only then is a `Grant` minted, without
which `render` decrypts nothing.
"""


from archive.gate.core import BREAK_GLASS_POINTER, LOAN_POINTER, Grant, authorize_log_access, etag, refuse
from archive.gate.customers import CustomerGate
from archive.gate.documents import DocumentGate, UploadPermit

__all__ = ["BREAK_GLASS_POINTER", "LOAN_POINTER", "CustomerGate", "DocumentGate", "Grant", "UploadPermit",
           "authorize_log_access", "etag", "refuse"]
