"""A part of an import checked a column at a time gives exactly what checking its rows one by
one gives — the customers, or every problem — for clean parts, parts with a bad value
anywhere, and rows that are not alike."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.customers.validation import _clean_part, parse_new_customer, parse_new_customers

TODAY = date(2026, 11, 29)
CLEAN = {
    "code": "C-B0001", "name": "华宇机械有限公司", "kind": "enterprise", "department": "SALES", "owner": "head",
    "status": "active", "id_number": "91320300MA00000012", "tax_number": "", "phone": "13800000001",
    "email": "b1@example.cn", "address": "江苏省徐州市鼓楼区1号", "industry": "制造", "region": "徐州",
    "annual_volume": "1500000", "credit_rating": "AA", "cooperation_since": "2015-03-01",
}
# Each column's values: clean ones, and ones each check refuses or treats specially.
VALUES = {
    "code": ["C-B0001", "C-X-9", "", " C-B2 ", "B0001", "C-" + "9" * 40, "C-1\nC-2"],
    "name": ["华宇机械有限公司", "周伟", "", "  ", "x" * 201, " 周\t"],
    "kind": ["enterprise", "individual", "institution", "", "company", " enterprise "],
    "department": ["SALES", "", "NOPE"],
    "owner": ["head", ""],
    "status": ["active", "", "potential", "gone", "Active"],
    "id_number": ["91320300MA00000012", "320302198501010011", "", "91320300ma00000012", "9132 0300 MA00 0000 12",
                  "123", "320302198501010011\n320302198501010012"],
    "tax_number": ["", "91320300MA1M23450A", "bad"],
    "phone": ["13800000001", "+86 138 0000 0001", "", "(0516) 8388-1234", "12", "phone", "1380000\n1390000"],
    "email": ["b1@example.cn", "", "not-an-address", "a@b.c\nd@e.f", "a b@c.d"],
    "address": ["江苏省徐州市鼓楼区1号", "", "x" * 301],
    "industry": ["制造", "", "x" * 101],
    "region": ["徐州", "", "y" * 101],
    "annual_volume": ["1500000", "", "0", "007", "1,500,000", "1500000.50", "-5", "x", "9" * 19, "１２３", "NaN"],
    "credit_rating": ["AA", "", "aa", "Bbb", "E", " a "],
    "cooperation_since": ["2015-03-01", "", "2026-11-29", "2026-11-30", "2015-3-1", "20150301", "yesterday"],
    "size_class": ["large", "", "huge"],
}
value = st.sampled_from(list(VALUES))


@st.composite
def part(draw: st.DrawFn) -> list[dict[str, object]]:
    columns = draw(st.sets(value, min_size=2)) | {"kind", "name"} if draw(st.booleans()) else set(VALUES)
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        row: dict[str, object] = {c: draw(st.sampled_from(VALUES[c])) for c in sorted(columns)}
        if draw(st.integers(0, 20)) == 0:  # now and then a row unlike the others
            row.pop(draw(st.sampled_from(sorted(row))))
        if draw(st.integers(0, 20)) == 0:
            row[draw(st.sampled_from(sorted(row)))] = draw(st.sampled_from([None, 5, 12.5]))
        rows.append(row)
    return rows


def one_by_one(rows: list[dict[str, object]]) -> list[object]:
    return [parse_new_customer(row, today=TODAY) for row in rows]


@given(rows=part())
@settings(max_examples=600, deadline=None)
def test_a_part_checked_by_columns_equals_its_rows_checked_one_by_one(rows: list[dict[str, object]]) -> None:
    assert parse_new_customers(rows, today=TODAY) == one_by_one(rows)


# Values every check accepts, some only once stripped, upper-cased or read as a number.
VALID = {"code": ["C-B0001", "C-X-9", "", " C-B2 "], "name": ["华宇机械有限公司", "周伟", " 周\t"],
         "kind": ["enterprise", "individual", "institution", " enterprise "], "department": ["SALES", ""],
         "owner": ["head", ""], "status": ["active", "", "potential"],
         "id_number": ["91320300MA00000012", "320302198501010011", ""], "tax_number": ["", "91320300MA1M23450A"],
         "phone": ["13800000001", "+86 138 0000 0001", ""], "email": ["b1@example.cn", ""],
         "address": ["江苏省徐州市鼓楼区1号", ""], "industry": ["制造", ""], "region": ["徐州", ""],
         "annual_volume": ["1500000", "", "0", "007"], "credit_rating": ["AA", "", "aa", "Bbb", " a "],
         "cooperation_since": ["2015-03-01", "", "2026-11-29"], "size_class": ["large", ""]}


@given(rows=st.lists(st.fixed_dictionaries({c: st.sampled_from(VALID[c]) for c in VALID}), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_clean_parts_take_the_column_path_and_give_the_same_customers(rows: list[dict[str, object]]) -> None:
    assert _clean_part(rows, TODAY) is not None  # the fast path is not dead code
    assert parse_new_customers(rows, today=TODAY) == one_by_one(rows)


def test_a_clean_file_part_takes_the_column_path() -> None:
    rows = [{**CLEAN, "code": f"C-B{i:04d}", "phone": f"138{i:08d}"} for i in range(500)]
    assert _clean_part(rows, TODAY) == [new for new, _ in one_by_one(rows)]  # type: ignore[misc]


def test_one_bad_value_sends_the_part_row_by_row_with_its_problem() -> None:
    rows = [dict(CLEAN), {**CLEAN, "email": "nope"}]
    assert _clean_part(rows, TODAY) is None
    (first, none), (second, problems) = parse_new_customers(rows, today=TODAY)
    assert first is not None and none == []
    assert second is None and [p.field for p in problems] == ["email"]


def test_an_empty_part() -> None:
    assert parse_new_customers([], today=TODAY) == []


def test_a_bad_value_after_many_that_match_several_ways_is_refused_at_once() -> None:
    """An e-mail domain with k dots matches the pattern k ways: the column check must not try
    every combination when a later value fails (k**n tries would hold the GIL for good). Run
    in a child process so that a regression fails on its timeout instead of hanging the suite."""
    import subprocess
    import sys

    script = ("from datetime import date\n"
              "from archive.customers.validation import _clean_part\n"
              "rows = [{'kind': 'enterprise', 'name': 'n', 'email': f'ops{i}@mail.acme.com.cn'} for i in range(400)]\n"
              "rows.append({'kind': 'enterprise', 'name': 'n', 'email': 'ops@localhost'})\n"
              "assert _clean_part(rows, date(2026, 11, 29)) is None\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
