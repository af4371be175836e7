"""What a new customer's fields must look like, the same for the intake form and an import row:
each problem names its field, so a person can fix the row (API.md import CSV format)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from archive.customers.models import KINDS, SEALED_FIELDS, STATUSES
from archive.customers.registry import NewCustomer
from archive.errors import FieldError

CODE = re.compile(r"C-[0-9A-Za-z][0-9A-Za-z-]{0,29}")
# Resident ID (18 characters, last may be X) or unified social credit code (18 alphanumerics).
ID_NUMBER = re.compile(r"[0-9A-Z]{15}[0-9A-Z]{3}|[0-9]{15}")
PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{5,24}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CREDIT_RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")
SIZE_CLASSES = ("large", "medium", "small")
PROFILE = ("industry", "region", "size_class")
LIMITS = {"name": 200, "address": 300, "industry": 100, "region": 100}


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = (value if isinstance(value, str) else str(value)).strip()
    return text or None


_SENSITIVE_SET = frozenset(SEALED_FIELDS) - {"name"}


def parse_new_customer(fields: Mapping[str, object], *,
                       today: date | None = None) -> tuple[NewCustomer | None, list[FieldError]]:
    """A NewCustomer, or every problem found (all of them, not just the first). `today` (for
    dates that may not lie in the future) lets an import look up the date once."""
    v = {k: _clean(x) for k, x in fields.items()}
    errors: list[FieldError] = []

    def bad(field: str, message: str) -> None:
        errors.append(FieldError(field, message))

    get = v.get
    code, kind, name = get("code"), get("kind"), get("name")
    if code is not None and not CODE.fullmatch(code):
        bad("code", "starts with C- followed by letters, digits or dashes (at most 32 characters)")
    if kind not in KINDS:
        bad("kind", f"one of {', '.join(KINDS)}")
    if not name:
        bad("name", "required")
    status = get("status") or "potential"
    if status not in STATUSES:
        bad("status", f"one of {', '.join(STATUSES)}")
    for field, limit in LIMITS.items():
        if len(get(field) or "") > limit:
            bad(field, f"at most {limit} characters")
    for field in ("id_number", "tax_number"):
        value = get(field)
        if value and not ID_NUMBER.fullmatch(value) and not ID_NUMBER.fullmatch(value.replace(" ", "").upper()):
            bad(field, "18 letters or digits (ID card, business licence or unified social credit code)")
    phone = get("phone")
    if phone and not PHONE.fullmatch(phone):
        bad("phone", "digits, spaces, dashes and brackets, optionally with a leading +")
    email = get("email")
    if email and not EMAIL.fullmatch(email):
        bad("email", "an address like name@example.com")
    volume = get("annual_volume")
    if volume and len(volume) < 19 and volume.isascii() and volume.isdigit():
        v["annual_volume"] = str(int(volume))  # what Decimal gives a plain integer, without its cost
    elif volume:
        try:
            amount = Decimal(volume.replace(",", ""))
            if not amount.is_finite() or amount < 0:
                raise InvalidOperation
            v["annual_volume"] = str(amount)
        except InvalidOperation:
            bad("annual_volume", "an amount in CNY, e.g. 1500000 or 1500000.50")
    rating = get("credit_rating")
    if rating and rating.upper() not in CREDIT_RATINGS:
        bad("credit_rating", f"one of {', '.join(CREDIT_RATINGS)}")
    elif rating:
        v["credit_rating"] = rating.upper()
    since = get("cooperation_since")
    if since:
        try:
            if date.fromisoformat(since) > (today or date.today()):
                bad("cooperation_since", "not in the future")
        except ValueError:
            bad("cooperation_since", "a date as YYYY-MM-DD")
    size = get("size_class")
    if size and size not in SIZE_CLASSES:
        bad("size_class", f"one of {', '.join(SIZE_CLASSES)}")
    if errors or kind is None or name is None:
        return None, errors
    sensitive = {f: value for f, value in v.items() if value is not None and f in _SENSITIVE_SET}
    return NewCustomer(kind, name, code, get("department"), get("owner"), status,
                       {f: value for f in PROFILE if (value := get(f))}, sensitive), []
