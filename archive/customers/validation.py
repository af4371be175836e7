"""What a new customer's fields must look like, the same for the intake form and an import row:
each problem names its field, so a person can fix the row (API.md import CSV format)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from operator import itemgetter

from archive.customers.models import KINDS, SEALED_FIELDS, STATUSES
from archive.customers.service import NewCustomer
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
    dates that may not lie in the future) lets an import look up the date once per part."""
    # Text is stripped inline (an import calls this for every row); anything else via _clean.
    v = {k: (x.strip() or None) if x.__class__ is str else _clean(x) for k, x in fields.items()}
    return _parse(v, today)


def _parse(v: dict[str, str | None], today: date | None) -> tuple[NewCustomer | None, list[FieldError]]:
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


def parse_new_customers(rows: Sequence[Mapping[str, object]], *,
                        today: date | None = None) -> list[tuple[NewCustomer | None, list[FieldError]]]:
    """`parse_new_customer` of each row, for a part of an import file. A part whose rows are
    all clean — the usual case — is checked a column at a time (one regular expression over a
    column's values joined, set and length checks in C) and its customers made from the
    columns; at the first doubt the whole part goes through `parse_new_customer` row by row
    instead. Either way the results are `parse_new_customer`'s, problems included
    (tests/archive/test_validation_batch.py) — equal as dicts: a row listing its columns in
    another order than the part's first row gets its `sensitive` fields in the first row's
    order (an import file's rows all share the header's)."""
    today = today or date.today()
    clean = _clean_part(rows, today)
    if clean is not None:
        return [(new, []) for new in clean]
    return [parse_new_customer(row, today=today) for row in rows]


_KIND_SET, _STATUS_SET = frozenset(KINDS), frozenset(STATUSES)
_RATING_SET, _SIZE_SET = frozenset(CREDIT_RATINGS), frozenset(SIZE_CLASSES)


def _joined(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` for values joined by newlines (none of its values can hold one). Each value is
    an atomic group: once a value has matched, the engine does not go back into it when a later
    one fails — without that, an e-mail domain with k dots (a@b.com.cn) matches k ways and a bad
    value after n of them costs k**n tries, holding the GIL. A value matched atomically still
    matched in full (the pattern's last part is greedy up to the newline), so nothing valid is
    refused; and a refusal only sends the part row by row."""
    return re.compile(f"(?>{pattern.pattern})(?:\n(?>{pattern.pattern}))*")


_ALL_CODES, _ALL_IDS, _ALL_PHONES, _ALL_EMAILS = map(_joined, (CODE, ID_NUMBER, PHONE, EMAIL))


def _all_match(joined: re.Pattern[str], values: list[str]) -> bool:
    text = "\n".join(values)
    # As many newlines as separators: no value held one (the pattern would then be judging pieces).
    return text.count("\n") == len(values) - 1 and joined.fullmatch(text) is not None


def _clean_part(rows: Sequence[Mapping[str, object]], today: date) -> list[NewCustomer] | None:
    """The customers of a part whose every row is clean, or None if any row may not be."""
    if not rows:
        return []
    keys = tuple(rows[0])
    if len(keys) < 2:
        return None
    try:
        if set(map(len, rows)) != {len(keys)}:  # with the same keys picked from each: the same keys
            return None
        raw_columns = zip(*map(itemgetter(*keys), rows), strict=True)
        columns: dict[str, list[str | None]] = {}
        with_empty: set[str] = set()
        for key, raw in zip(keys, raw_columns, strict=True):
            stripped: list[str | None] = list(map(str.strip, raw))  # TypeError for what is not text
            if "" in stripped:
                stripped = [x or None for x in stripped]
                with_empty.add(key)
            columns[key] = stripped
    except (KeyError, TypeError):
        return None

    def given(field: str) -> list[str]:
        """The column's values, without the empty ones."""
        column = columns.get(field)
        if column is None:
            return []
        return [x for x in column if x is not None] if field in with_empty else column  # type: ignore[return-value]

    kinds, names = columns.get("kind"), columns.get("name")
    if kinds is None or names is None or "kind" in with_empty or "name" in with_empty \
            or not _KIND_SET.issuperset(kinds):
        return None
    for field, joined in (("code", _ALL_CODES), ("id_number", _ALL_IDS), ("tax_number", _ALL_IDS),
                          ("phone", _ALL_PHONES), ("email", _ALL_EMAILS)):
        values = given(field)
        if values and not _all_match(joined, values):
            return None
    for field, limit in LIMITS.items():
        values = given(field)
        if values and max(map(len, values)) > limit:
            return None
    if not _STATUS_SET.issuperset(given("status")) or not _SIZE_SET.issuperset(given("size_class")):
        return None
    ratings = given("credit_rating")
    if ratings:
        if not _RATING_SET.issuperset(map(str.upper, ratings)):
            return None
        columns["credit_rating"] = [None if x is None else x.upper() for x in columns["credit_rating"]]
    volumes = given("annual_volume")
    if volumes:
        if max(map(len, volumes)) >= 19 or not all(map(str.isdigit, volumes)) or not all(map(str.isascii, volumes)):
            return None  # amounts with decimals or separators: Decimal's rules, row by row
        columns["annual_volume"] = [None if x is None else str(int(x)) for x in columns["annual_volume"]]
    for since in set(given("cooperation_since")):
        try:
            if date.fromisoformat(since) > today:
                return None
        except ValueError:
            return None

    n = len(rows)
    nothing: list[str | None] = [None] * n
    sensitive = _dicts([k for k in keys if k in _SENSITIVE_SET], columns, with_empty, n)
    profile = _dicts([f for f in PROFILE if f in columns], columns, with_empty, n)
    statuses = [x or "potential" for x in columns["status"]] if "status" in columns else ["potential"] * n
    return list(map(NewCustomer, kinds, names, columns.get("code", nothing), columns.get("department", nothing),
                    columns.get("owner", nothing), statuses, profile, sensitive))


def _dicts(fields: list[str], columns: dict[str, list[str | None]], with_empty: set[str],
           n: int) -> list[dict[str, str | None]]:
    """Per row, these fields' values that are not empty, in this order."""
    if not fields:
        return [{} for _ in range(n)]
    rows = zip(*[columns[f] for f in fields], strict=True)
    if with_empty.isdisjoint(fields):
        return [dict(zip(fields, values, strict=True)) for values in rows]
    return [{f: v for f, v in zip(fields, values, strict=True) if v is not None} for values in rows]
