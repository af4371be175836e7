"""The import's way of building customers' sealed columns (a part of a file at a time, column
by column) gives, row by row, what the one-at-a-time way gives, for any mix of kinds and
present fields."""

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
    indexed_columns_many,
    sealed_column_names,
)
from crypto.blind_index import BlindIndex

INDEX = BlindIndex({1: os.urandom(32), 2: os.urandom(32)}).pinned()
VALUES = {"address": "江苏省徐州市鼓楼区 1 号", "email": "a@b.cn", "id_number": "320302198501010011",
          "phone": "13812345678", "tax_number": "91320300MA1M23450A"}
FIELDS = ("name", *VALUES)


ROW = st.tuples(st.sampled_from(["individual", "enterprise", "institution"]),
                st.sampled_from(["张三", "华宇机械有限公司"]), st.sets(st.sampled_from(list(VALUES))))


@given(batch=st.lists(ROW, min_size=1, max_size=6))
def test_indexed_columns_many_equal_columns_of_row_by_row(batch: list[tuple[str, str, set[str]]]) -> None:
    kinds, names, keys, sealed_rows, indexes_rows, expected = [], [], [], [], [], []
    for kind, name, held in batch:
        sensitive = {"name": name, **{f: (VALUES[f] if f in held else None) for f in VALUES}}
        sealed = [None if v is None else os.urandom(8) for v in sensitive.values()]
        public = kind in PUBLIC_NAME_KINDS
        # As the import computes them: each present indexed value's, the name only for an individual.
        indexes = {f: INDEX.hex_candidates(index_kind(f), v) for f in INDEXED_FIELDS
                   if (v := sensitive.get(f)) and not (public and f == "name")}
        key = company_key(name) if public else None
        expected.append(columns_of(INDEX, kind, sensitive, dict(zip(FIELDS, sealed, strict=True)), indexes,
                                   name_key=key))
        kinds.append(kind)
        names.append(name)
        keys.append(key)
        sealed_rows.append(sealed)
        indexes_rows.append(indexes)
    columns = indexed_columns_many(kinds, names, keys, sealed_column_names(FIELDS), sealed_rows, indexes_rows)
    assert all(len(values) == len(batch) for values in columns.values())
    rows = [{column: values[i] for column, values in columns.items() if values[i] is not None}
            for i in range(len(batch))]
    assert rows == expected


def test_no_rows_no_columns() -> None:
    assert indexed_columns_many([], [], [], sealed_column_names(FIELDS), [], []) == {}
