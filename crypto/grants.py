"""Grants: the capability without which nothing in `crypto/` hands out plaintext.

A `Grant` names what may be opened: which customers (or any, for a system grant) and which
fields, each spelled `table.column` as in `FieldContext` (`customers.phone`,
`documents.content`). Grants are minted only by a `GrantAuthority`; the field cipher, the key
ring's decrypting side and the blob reader each trust exactly one authority and refuse a grant
it did not mint, one for another customer, and one that does not admit the field.

Python cannot make a value unforgeable, so the rules are kept by construction and checked by a
lint (tests/security/test_chokepoints.py):

- `Grant(...)` raises: the only way to one is `GrantAuthority.mint`.
- A grant is immutable and cannot be copied, pickled or `dataclasses.replace`d (not a
  dataclass); a look-alike made with `object.__new__` is refused, because the authority
  accepts only the very objects it minted (held weakly, by identity).
- The governance gate (`archive/gate/`) creates the one authority of a process and binds the
  key ring to it (`KeyRing.trust`), so no other code holds it.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, NoReturn, final

from crypto.errors import CryptoError


class NotGranted(CryptoError):
    """Plaintext was asked for without a grant that admits it; nothing was opened."""


class GrantKind(StrEnum):
    READ = "read"  # the fields a decision admits, for the customers it names; shown to the caller
    AGGREGATE = "aggregate"  # the fields a report or grading run declares; computed on, never returned
    SYSTEM = "system"  # key rotation and rewrap: every customer, no field leaves the crypto layer


@final
class Grant:
    """What the gate admitted. `customer_ids` / `fields` of None mean "any" (system grants)."""

    __slots__ = ("__weakref__", "_authority", "customer_ids", "fields", "kind", "reason")

    kind: GrantKind
    customer_ids: frozenset[uuid.UUID] | None
    fields: frozenset[str] | None
    reason: str
    _authority: GrantAuthority

    def __new__(cls, *_args: object, **_kwargs: object) -> Grant:
        raise TypeError("grants are minted by the governance gate, never built")

    def covers(self, customer_id: uuid.UUID, field: str | None) -> bool:
        """Whether this grant admits `field` (`table.column`; None: any field) of that customer."""
        if self.customer_ids is not None and customer_id not in self.customer_ids:
            return False
        return self.fields is None or (field is not None and field in self.fields)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("a grant cannot be changed")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("a grant cannot be changed")

    def __copy__(self) -> NoReturn:
        raise TypeError("a grant cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("a grant cannot be copied")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a grant cannot be pickled")

    def __repr__(self) -> str:
        customers = "any" if self.customer_ids is None else len(self.customer_ids)
        fields = "any" if self.fields is None else sorted(self.fields)
        return f"Grant(kind={self.kind.value}, customers={customers}, fields={fields})"


@final
class GrantAuthority:
    """Mints grants and recognises its own. One per process, held by the gate."""

    __slots__ = ("_issued",)

    def __init__(self) -> None:
        # id(grant) -> a weak reference to that very grant; the entry goes when the grant does.
        self._issued: dict[int, weakref.ref[Grant]] = {}

    def mint(self, kind: GrantKind, *, customer_ids: Iterable[uuid.UUID] | None,
             fields: Iterable[str] | None, reason: str = "") -> Grant:
        if kind is not GrantKind.SYSTEM and (customer_ids is None or fields is None):
            raise ValueError("only a system grant may cover any customer or any field")
        grant = object.__new__(Grant)
        for name, value in (("kind", kind), ("reason", reason), ("_authority", self),
                            ("customer_ids", None if customer_ids is None else frozenset(customer_ids)),
                            ("fields", None if fields is None else frozenset(fields))):
            object.__setattr__(grant, name, value)
        key, issued = id(grant), self._issued

        def forget(ref: weakref.ref[Grant]) -> None:
            if issued.get(key) is ref:
                del issued[key]

        issued[key] = weakref.ref(grant, forget)
        return grant

    def check(self, grant: Grant | None, customer_id: uuid.UUID, field: str | None) -> None:
        """Raise `NotGranted` unless `grant` is one of ours and admits that field of that customer."""
        ref = self._issued.get(id(grant))
        if ref is None or ref() is not grant:  # not minted here: a look-alike has another identity
            raise NotGranted("no valid grant: plaintext is opened only against a grant from the gate")
        assert grant is not None
        customers, fields = grant.customer_ids, grant.fields
        if (customers is not None and customer_id not in customers) or (fields is not None and field not in fields):
            raise NotGranted(f"the grant does not admit {field or 'this data'} of customer {customer_id}")

    def __repr__(self) -> str:
        return "GrantAuthority()"
