"""Money: Decimal amounts in their currency's exponent, parsed from strings, never floats."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.money import EXPONENTS
from contracts.money import MAX_AMOUNT
from contracts.money import InvalidAmount
from contracts.money import UnknownCurrency
from contracts.money import check_amount
from contracts.money import fmt
from contracts.money import from_minor
from contracts.money import parse_amount
from contracts.money import quantum
from contracts.money import to_minor


@pytest.mark.parametrize(
    ("value", "currency", "parsed"),
    [
        ("5", "EUR", Decimal("5.00")),
        ("5.10", "EUR", Decimal("5.10")),
        (500, "JPY", Decimal("500")),
        ("0.00000001", "BTC", Decimal("0.00000001")),
        ("1.234", "KWD", Decimal("1.234")),
        (Decimal("7.5"), "USD", Decimal("7.50")),
    ],
)
def test_an_amount_is_parsed_into_its_currencys_exponent(
    value: object, currency: str, parsed: Decimal
) -> None:
    amount = parse_amount(value, currency)
    assert amount == parsed
    assert amount.as_tuple().exponent == -EXPONENTS[currency]


@pytest.mark.parametrize(
    ("value", "currency", "says"),
    [
        ("1.001", "EUR", "more decimals than EUR allows"),
        ("1.5", "JPY", "more decimals than JPY allows"),
        ("-1", "EUR", "must be >= 0"),
        ("NaN", "EUR", "not a decimal number"),
        ("Infinity", "EUR", "not a decimal number"),
        (" 5", "EUR", "not a decimal number"),
        ("+5", "EUR", "not a decimal number"),
        ("1e2", "EUR", "not a decimal number"),
        ("\u0661", "EUR", "not a decimal number"),  # Arabic-Indic digit
        ("abc", "EUR", "not a decimal number"),
        ("1_000", "EUR", "not a decimal number"),
        ("\uff11\uff10", "EUR", "not a decimal number"),  # full-width digits
        ("1" + "0" * 30, "EUR", "above the largest"),
        ("9" * 100, "BTC", "not a decimal number"),
        (1.5, "EUR", "not float"),
        (True, "EUR", "not bool"),
        (None, "EUR", "must be a decimal string"),
    ],
)
def test_an_amount_that_is_not_money_is_refused_with_a_message_naming_it(
    value: object, currency: str, says: str
) -> None:
    with pytest.raises(InvalidAmount, match=says):
        parse_amount(value, currency)


def test_a_huge_decimal_is_refused_as_invalid_not_with_a_decimal_error() -> None:
    with pytest.raises(InvalidAmount, match="above the largest"):
        check_amount(Decimal("1E+30"), "EUR")
    assert check_amount(MAX_AMOUNT, "BTC") == MAX_AMOUNT


def test_minus_zero_is_zero() -> None:
    assert str(parse_amount("-0", "EUR")) == "0.00"


def test_a_zero_amount_is_refused_where_a_positive_one_is_required() -> None:
    assert check_amount(Decimal(0), "EUR") == 0
    with pytest.raises(InvalidAmount, match="must be > 0"):
        check_amount(Decimal(0), "EUR", allow_zero=False)


def test_an_unknown_currency_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(UnknownCurrency, match=r"unknown currency 'XXX'; known: .*EUR"):
        quantum("XXX")


def test_minor_units_convert_both_ways_at_the_currency_or_a_dialects_scale() -> None:
    assert to_minor(Decimal("5.00"), "EUR") == 500
    assert to_minor(Decimal("5.00"), "EUR", scale=5) == 500_000  # Hub88 sends x100000
    assert from_minor(500_000, "EUR", scale=5) == Decimal("5.00")
    assert from_minor(500, "JPY") == Decimal("500")
    with pytest.raises(InvalidAmount):
        from_minor(1, "EUR", scale=5)  # 0.00001 EUR is finer than a cent


def test_the_canonical_string_has_the_currencys_decimals() -> None:
    assert (fmt(Decimal("5"), "EUR"), fmt(Decimal("500"), "JPY")) == ("5.00", "500")


@given(
    currency=st.sampled_from(sorted(EXPONENTS)),
    units=st.integers(min_value=0, max_value=10**15),
)
def test_every_amount_survives_a_round_trip_through_its_wire_forms(
    currency: str, units: int
) -> None:
    amount = from_minor(units, currency)
    assert to_minor(amount, currency) == units
    assert parse_amount(fmt(amount, currency), currency) == amount


@given(
    text=st.one_of(
        st.text(max_size=12),
        st.from_regex(r"[0-9]{1,10}(\.[0-9]{1,8})?", fullmatch=True),
    )
)
def test_a_string_is_an_amount_only_in_plain_ascii_decimal_notation(text: str) -> None:
    plain = re.fullmatch(r"[0-9]+(\.[0-9]{1,8})?", text, re.ASCII)
    try:
        amount = parse_amount(text, "BTC")
    except InvalidAmount:
        assert plain is None or Decimal(text) > MAX_AMOUNT, text
    else:
        assert plain is not None, f"{text!r} was taken as {amount}"
        assert amount == Decimal(text)
