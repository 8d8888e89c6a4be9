"""The declaration's field kinds: what they accept, what they refuse and how they say so."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.registry import (COMMON_FIELDS, Choice, Date, Decimal_, Field, FieldError, Integer, PermitType, Text,
                           YesNo, parse_date)


def field(kind, **kw):
    return Field("x", "测试字段", kind, **kw)


@pytest.mark.parametrize("raw, expected", [
    ("2024年3月8日", dt.date(2024, 3, 8)), ("2024-03-08", dt.date(2024, 3, 8)), ("2024/3/8", dt.date(2024, 3, 8)),
    ("2020年07月29日", dt.date(2020, 7, 29)), ("二○一八年五月九日", dt.date(2018, 5, 9)),
    ("二〇一八年十二月二十五日", dt.date(2018, 12, 25)), (dt.date(2025, 8, 25), dt.date(2025, 8, 25)),
    (dt.datetime(2025, 8, 25), dt.date(2025, 8, 25)), ("2025-08-25 00:00:00", dt.date(2025, 8, 25)),
])
def test_dates_accepted(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["03/08/2024", "8.3.24", "2024年13月1日", "明天", "20240308", 45000])
def test_ambiguous_or_wrong_dates_refused(raw):
    with pytest.raises(FieldError) as err:
        field(Date()).clean(raw)
    assert "「测试字段」不是明确的日期" in str(err.value) or "测试字段" in err.value.message


@pytest.mark.parametrize("raw, expected", [
    ("0.4850", Decimal("0.49")), ("1,234.5", Decimal("1234.50")), ("9106.49㎡", Decimal("9106.49")),
    ("1.5亩", Decimal("1000.00")), ("0.4850公顷", Decimal("4850.00")), (12, Decimal("12.00")),
    ("3 平方米", Decimal("3.00")),
])
def test_square_metres(raw, expected):
    assert field(Decimal_(unit="平方米", places=2)).clean(raw) == expected


def test_hectares_keep_four_places_and_convert_from_mu():
    kind = Decimal_(unit="公顷", places=4)
    assert field(kind).clean("0.4850公顷") == Decimal("0.4850")
    assert field(kind).clean("15亩") == Decimal("1.0000")


@pytest.mark.parametrize("raw, message", [
    ("很多", "「测试字段」必须是数字"), ("-1", "「测试字段」不能小于 0"), ("NaN", "「测试字段」必须是数字"),
    (True, "「测试字段」必须是数字"),
])
def test_decimal_refusals_name_the_field(app, raw, message):
    with app.test_request_context():
        with pytest.raises(FieldError) as err:
            field(Decimal_(unit="平方米")).clean(raw)
    assert err.value.message == message


def test_required_blank_is_refused_optional_blank_is_none(app):
    with app.test_request_context():
        with pytest.raises(FieldError) as err:
            field(Text(), required=True).clean("  ")
        assert err.value.message == "「测试字段」必须填写"
    assert field(Text()).clean("") is None


def test_integer_choice_yesno(app):
    assert field(Integer(unit="个")).clean("12个") == 12
    assert field(Integer()).clean(3.0) == 3
    assert field(Choice("出让", "划拨")).clean(" 划拨 ") == "划拨"
    assert field(YesNo()).clean("是") is True and field(YesNo()).clean("否") is False
    with app.test_request_context():
        with pytest.raises(FieldError) as err:
            field(Choice("出让", "划拨")).clean("租赁")
        assert err.value.message == "「测试字段」只能填：出让、划拨"
        with pytest.raises(FieldError):
            field(Integer()).clean("1.5")


def test_project_code_pattern(app):
    code = next(f for f in COMMON_FIELDS if f.name == "project_code")
    assert code.clean("2019-410102-47-03-012345") == "2019-410102-47-03-012345"
    with app.test_request_context():
        for bad in ("2019-410102-47-03-01234", "2019410102470301234", "项目代码"):
            with pytest.raises(FieldError) as err:
                code.clean(bad)
            assert "项目代码" in err.value.message


def test_personal_fields_are_masked():
    f = Field("id_number", "身份证号", Text(18), personal=True)
    assert f.display("410102199001011234") == "410*************34"


def test_declaration_refuses_reserved_and_duplicate_names():
    with pytest.raises(ValueError, match="reserved"):
        PermitType(code="abc", name="甲", prefix_char="甲", letters="AB", fields=[Field("number", "编号")])
    with pytest.raises(ValueError, match="twice"):
        PermitType(code="abc", name="甲", prefix_char="甲", letters="AB",
                   fields=[Field("a", "甲"), Field("a", "乙")])
    with pytest.raises(ValueError, match="two capital"):
        PermitType(code="abc", name="甲", prefix_char="甲", letters="A1", fields=[])


def test_labels_relabel_common_fields():
    t = PermitType(code="abc", name="甲", prefix_char="甲", letters="AB", fields=[], labels={"holder": "用地单位"})
    assert t.field("holder").label == "用地单位"
    values, errors = t.clean({"project_name": "x", "holder": "", "location": "y"})
    assert set(errors) == {"holder"} and "用地单位" in str(errors["holder"])


@pytest.mark.parametrize("raw", ["1e309", "1e400", "9" * 40, 1e308, "1e25"])
def test_huge_numbers_are_refused_not_crashed(app, raw):
    with app.test_request_context():
        with pytest.raises(FieldError) as err:
            field(Decimal_(unit="平方米", places=2)).clean(raw)
    assert err.value.message in ("「测试字段」数值过大", "「测试字段」必须是数字")
