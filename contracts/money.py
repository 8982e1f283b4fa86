"""Money: `Decimal` amounts with their currency's exponent, parsed from strings, never floats.

Every amount that crosses the wire is parsed here once. An amount with more decimals than
its currency allows, a negative, NaN, infinite or huge amount (above `MAX_AMOUNT`), a float,
or a string that is not plain decimal notation (ASCII digits with an optional fraction and
nothing else: no `_`, sign, exponent, space, or non-ASCII digits such as Arabic-Indic or
full-width ones) is refused with `InvalidAmount`, whose message names the value and the
currency.

Errors::

    ValueError
    └── MoneyError
        ├── InvalidAmount        not a finite, non-negative amount in the currency's precision
        └── UnknownCurrency      a currency code livebridge has no exponent for
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN
from decimal import Decimal
from decimal import InvalidOperation
from typing import Annotated
from typing import Final

import msgspec

# ISO 4217 minor-unit exponents, plus the crypto units live casinos settle in.
EXPONENTS: Final[dict[str, int]] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CAD": 2, "AUD": 2, "NZD": 2, "CHF": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "TRY": 2, "BRL": 2, "MXN": 2,
    "ARS": 2, "CLP": 0, "COP": 2, "PEN": 2, "INR": 2, "ZAR": 2, "NGN": 2, "KES": 2, "GHS": 2,
    "UAH": 2, "KZT": 2, "GEL": 2, "AMD": 2, "AZN": 2, "RUB": 2, "CNY": 2, "HKD": 2, "SGD": 2,
    "MYR": 2, "THB": 2, "PHP": 2, "IDR": 2, "VND": 0, "JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3,
    "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
    "BTC": 8, "ETH": 8, "LTC": 8, "USDT": 6, "USDC": 6,
}  # fmt: skip


MAX_AMOUNT: Final = Decimal(10) ** 15
"""No amount is above a quadrillion units of its currency. Below it, an amount has at most 24
significant digits (BTC has 8 decimals), so sums of many stay exact at Decimal's default
28 digits of precision; above it, balances would round silently."""

_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
"""Plain decimal notation: `12`, `12.50`. A leading `-` is read so the refusal can say the
amount is negative; `Decimal`'s leniencies (`_`, `+`, spaces, exponents, NaN, non-ASCII
digits) are all refused."""
_MAX_TEXT = 64
"""No amount needs more characters (16 integer digits, 18 decimals); a longer string is
refused before it is read."""

AmountText = Annotated[
    str,
    msgspec.Meta(
        max_length=_MAX_TEXT,
        pattern=f"^{_DECIMAL_TEXT.pattern}\\Z",
        description="A decimal string in the currency's precision: `5.00` EUR, `500` JPY.",
    ),
]
"""An amount on the canonical wire: plain decimal notation, read by `parse_amount`."""


class MoneyError(ValueError):
    """An amount or currency that livebridge cannot take as money."""

    code = "INVALID_AMOUNT"


class InvalidAmount(MoneyError):
    code = "INVALID_AMOUNT"


class UnknownCurrency(MoneyError):
    code = "UNKNOWN_CURRENCY"


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(
            f"unknown currency {currency!r}; known: {', '.join(sorted(EXPONENTS))}"
        ) from None


def quantum(currency: str) -> Decimal:
    """The smallest unit of `currency`: Decimal('0.01') for EUR, Decimal('1') for JPY."""
    return Decimal(1).scaleb(-exponent(currency))


def parse_amount(value: object, currency: str, *, allow_zero: bool = True) -> Decimal:
    """Parse a wire amount (string, int or Decimal; never float) into a currency-exact Decimal.

    The result is quantized to the currency's exponent, so `Decimal("5")` and
    `Decimal("5.00")` compare and print the same for EUR.
    """
    if isinstance(value, bool | float):
        raise InvalidAmount(
            f"amount {value!r} must be a decimal string, not {type(value).__name__}"
        )
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        if len(value) > _MAX_TEXT or not _DECIMAL_TEXT.fullmatch(value):
            raise InvalidAmount(f"amount {value[:_MAX_TEXT]!r} is not a decimal number")
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise InvalidAmount(f"amount {value!r} is not a decimal number") from None
    else:
        raise InvalidAmount(f"amount {value!r} must be a decimal string")
    return check_amount(amount, currency, allow_zero=allow_zero)


def check_amount(amount: Decimal, currency: str, *, allow_zero: bool = True) -> Decimal:
    """`amount` made exact in `currency`'s exponent; `InvalidAmount` if it is not money."""
    if not amount.is_finite():
        raise InvalidAmount(f"amount {amount} is not finite")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmount(f"amount {amount} {currency} must be {'>=' if allow_zero else '>'} 0")
    if amount > MAX_AMOUNT:
        raise InvalidAmount(f"amount {amount} {currency} is above the largest, {MAX_AMOUNT:,}")
    unit = quantum(currency)
    try:
        exact = amount.quantize(unit, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:  # more digits than the context's precision: not money either
        raise InvalidAmount(f"amount {amount} {currency} is out of range") from None
    if amount == 0:
        exact = abs(exact)  # -0 is 0
    if exact != amount:
        raise InvalidAmount(
            f"amount {amount} has more decimals than {currency} allows ({exponent(currency)})"
        )
    return exact


def to_minor(amount: Decimal, currency: str, scale: int | None = None) -> int:
    """Integer units at `scale` decimals (default: the currency's exponent): 5.00 EUR -> 500."""
    places = exponent(currency) if scale is None else scale
    return int(amount.scaleb(places).to_integral_exact())


def from_minor(units: int, currency: str, scale: int | None = None) -> Decimal:
    """Inverse of `to_minor`; refuses units finer than the currency's exponent."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise InvalidAmount(f"amount {units!r} must be an integer number of units")
    places = exponent(currency) if scale is None else scale
    return check_amount(Decimal(units).scaleb(-places), currency)


def fmt(amount: Decimal, currency: str) -> str:
    """The canonical string for an amount: '5.00' for EUR, '500' for JPY."""
    return f"{amount.quantize(quantum(currency)):f}"  # never 0E-8
