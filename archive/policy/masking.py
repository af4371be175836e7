"""Masking rules (DOMAIN.md "Fields: category and masking"): pure functions str -> str, named by
the rule ids that `policies/fields.yaml` assigns to fields.

A masked value never reveals more than the rule says; short or odd values reveal less, never
more (a value too short to keep its tail reveals nothing but `*`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

_SEPARATORS = re.compile(r"[\s\-().]")
_COUNTRY = re.compile(r"^(?:\+|00)?86(?=1\d{10}$)")  # +86 / 0086 / 86 before a mobile number
# Province (省, 自治区, 特别行政区), then city (市, 自治州, 地区, 盟); municipalities are a city alone.
_REGION = re.compile(r"(?P<province>.{1,10}?(?:省|自治区|特别行政区))?(?P<city>.{1,10}?(?:市|自治州|地区|盟))?")


def _stars(n: int) -> str:
    return "*" * n


def last4(value: str) -> str:
    """`110101199003071234` -> `**************1234`; values of 8 characters or fewer keep at
    most half of them."""
    text = value.strip()
    keep = min(4, len(text) // 2)
    return _stars(len(text) - keep) + text[len(text) - keep:]


def phone(value: str) -> str:
    """`13812345678` (also `+86 138-1234-5678`) -> `138****5678`; shorter numbers keep at most
    the last 4 digits and never more than half."""
    digits = _COUNTRY.sub("", _SEPARATORS.sub("", value))
    if len(digits) >= 11:
        return digits[:3] + _stars(len(digits) - 7) + digits[-4:]
    return last4(digits)


def email(value: str) -> str:
    """`zhang.wei@example.com` -> `z***@example.com`; no `@`, nothing revealed."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not domain:
        return "***"
    return (local[:1] if len(local) > 1 else "") + "***@" + domain


def address_region(value: str) -> str:
    """`江苏省徐州市鼓楼区中山北路1号` -> `江苏省徐州市***`; without a recognisable province or
    city, `***`."""
    match = _REGION.match(value.strip())
    return (match.group(0) if match else "") + "***"


def person_name(value: str) -> str:
    """`张三丰` -> `张**`; one character -> `*`."""
    text = value.strip()
    if len(text) <= 1:
        return _stars(len(text))
    return text[0] + _stars(len(text) - 1)


MASKS: Mapping[str, Callable[[str], str]] = MappingProxyType({
    "last4": last4,
    "phone": phone,
    "email": email,
    "address_region": address_region,
    "person_name": person_name,
})


def apply_mask(rule: str, value: str | None) -> str | None:
    """Mask `value` by rule id; a missing value stays missing (None, or "" for "")."""
    if value is None or not value.strip():
        return value if value is None else ""
    return MASKS[rule](value)
