"""Each masking rule of DOMAIN.md "Fields: category and masking", with short, odd and missing
values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.policy import MASKS, apply_mask
from archive.policy.masking import address_region, email, last4, person_name, phone


@pytest.mark.parametrize(("value", "masked"), [
    ("110101199003071234", "**************1234"),  # 18-character ID card
    ("91320300MA1XXXXX7K", "**************XX7K"),  # unified social credit code
    ("6222021234567890123", "***************0123"),  # bank account
    ("12345678", "****5678"),
    ("12345", "***45"),  # short: never more than half
    ("1234", "**34"),
    ("1", "*"),
    ("  110101199003071234 ", "**************1234"),
])
def test_last4(value, masked):
    assert last4(value) == masked


@pytest.mark.parametrize(("value", "masked"), [
    ("13812345678", "138****5678"),
    ("+86 138-1234-5678", "138****5678"),
    ("008613812345678", "138****5678"),
    ("(0516) 8388-1234", "051*****1234"),  # landline with area code
    ("83881234", "****1234"),
    ("12345", "***45"),
    ("110", "**0"),
])
def test_phone(value, masked):
    assert phone(value) == masked


@pytest.mark.parametrize(("value", "masked"), [
    ("zhang.wei@example.com", "z***@example.com"),
    ("z@example.com", "***@example.com"),  # one character: nothing of it
    ("张伟@例子.中国", "张***@例子.中国"),
    ("a\"b@c\"@example.com", "a***@example.com"),
    ("not-an-email", "***"),
    ("trailing@", "***"),
])
def test_email(value, masked):
    assert email(value) == masked


@pytest.mark.parametrize(("value", "masked"), [
    ("江苏省徐州市鼓楼区中山北路1号", "江苏省徐州市***"),
    ("上海市浦东新区世纪大道100号", "上海市***"),
    ("广西壮族自治区南宁市青秀区民族大道1号", "广西壮族自治区南宁市***"),
    ("内蒙古自治区呼和浩特市新城区", "内蒙古自治区呼和浩特市***"),
    ("香港特别行政区中环皇后大道中1号", "香港特别行政区***"),
    ("吉林省延边朝鲜族自治州延吉市", "吉林省延边朝鲜族自治州***"),
    ("江苏省", "江苏省***"),
    ("1 Main Street, Springfield", "***"),  # no province or city: nothing of it
])
def test_address_region(value, masked):
    assert address_region(value) == masked


@pytest.mark.parametrize(("value", "masked"), [
    ("张三丰", "张**"),
    ("张三", "张*"),
    ("欧阳娜娜", "欧***"),
    ("张", "*"),
    ("John Smith", "J*********"),
])
def test_person_name(value, masked):
    assert person_name(value) == masked


@pytest.mark.parametrize("rule", sorted(MASKS))
def test_missing_values_stay_missing(rule):
    assert apply_mask(rule, None) is None
    assert apply_mask(rule, "") == ""
    assert apply_mask(rule, "   ") == ""


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(MASKS)), st.text(min_size=1, max_size=60))
def test_a_mask_never_returns_the_value_itself(rule, value):
    masked = apply_mask(rule, value)
    assert masked is not None
    if value.strip():
        assert masked != value.strip() or set(masked) <= {"*"}
