"""The import's way of building a customer's sealed columns gives what the one-at-a-time way
gives, for any mix of kinds and present fields."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from archive.customers.intake import company_key
from archive.customers.service import (
    INDEXED_FIELDS,
    PUBLIC_NAME_KINDS,
    columns_of,
    index_kind,
    indexed_columns,
    sealed_column_names,
)
from crypto.blind_index import BlindIndex

INDEX = BlindIndex({1: os.urandom(32), 2: os.urandom(32)}).pinned()
VALUES = {"address": "江苏省徐州市鼓楼区 1 号", "email": "a@b.cn", "id_number": "320302198501010011",
          "phone": "13812345678", "tax_number": "91320300MA1M23450A"}
FIELDS = ("name", *VALUES)


@given(kind=st.sampled_from(["individual", "enterprise", "institution"]),
       name=st.sampled_from(["张三", "华宇机械有限公司"]), held=st.sets(st.sampled_from(list(VALUES))))
def test_indexed_columns_equal_columns_of(kind: str, name: str, held: set[str]) -> None:
    sensitive = {"name": name, **{f: (VALUES[f] if f in held else None) for f in VALUES}}
    sealed = [None if v is None else os.urandom(8) for v in sensitive.values()]
    public = kind in PUBLIC_NAME_KINDS
    # As the import computes them: each present indexed value's, the name only for an individual.
    indexes = {f: INDEX.hex_candidates(index_kind(f), v) for f in INDEXED_FIELDS
               if (v := sensitive.get(f)) and not (public and f == "name")}
    key = company_key(name) if public else None
    expected = columns_of(INDEX, kind, sensitive, dict(zip(FIELDS, sealed, strict=True)), indexes, name_key=key)
    assert indexed_columns(kind, name, key, sealed_column_names(FIELDS), sealed, indexes) == expected
