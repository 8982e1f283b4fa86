"""Amount checks every dialect shares, on top of `contracts.money`.

Every amount of every dialect goes through `contracts.money` (`parse_amount` for text,
`check_amount` for a number, `from_minor` for integer units). JSON dialects (Evolution,
Ezugi) declare their amounts as `msgspec.Raw`: a JSON number is read exactly, and a JSON
string goes through `parse_amount`, which takes plain decimal notation only (not
`Decimal`'s `1_0`, ` 1`, `+1`, `1e2`, Arabic-Indic or full-width digits, all of which
msgspec's own `Decimal` decoding would take).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from contracts.money import InvalidAmount
from contracts.money import check_amount
from contracts.money import parse_amount
from contracts.money import quantum

MAX_MAJOR = Decimal(10) ** 13
"""No wallet call moves more than 10 trillion major units; a bigger figure is malformed."""

_NUMBER = msgspec.json.Decoder(Decimal)


def wire_amount(
    value: Decimal | str | msgspec.Raw, currency: str, *, max_places: int = 18
) -> Decimal:
    """A wire amount made currency-exact; `InvalidAmount` for anything else.

    `value` is a decoded number, a string (parsed by `contracts.money.parse_amount`), or
    the raw JSON of an amount field (a number, or a string as above; anything else is
    refused). Refuses NaN, infinities, negatives (and -0), more decimals than the currency
    (or the dialect, `max_places`) allows, and magnitudes no casino moves.
    """
    if isinstance(value, msgspec.Raw):
        value = _from_json(value, currency)
    elif isinstance(value, str):
        value = _from_text(value, currency)
    if not value.is_finite() or abs(value) > MAX_MAJOR:
        raise InvalidAmount(f"amount {value} is not a finite amount below {MAX_MAJOR}")
    if value.is_signed() and value == 0:
        raise InvalidAmount(f"amount {value} carries a minus sign")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places and value != value.to_integral():
        raise InvalidAmount(f"amount {value} has more than {max_places} decimals")
    try:
        return check_amount(value, currency)
    except ArithmeticError:
        raise InvalidAmount(f"amount {value} is out of range") from None


def in_currency(value: Decimal, currency: str) -> Decimal:
    """`value` at `currency`'s exponent, as the decimal dialects answer balances."""
    return value.quantize(quantum(currency))


def _from_text(text: str, currency: str) -> Decimal:
    if text.startswith("-"):
        raise InvalidAmount(f"amount {text[:64]!r} carries a minus sign")
    return parse_amount(text, currency)


def _from_json(raw: msgspec.Raw, currency: str) -> Decimal:
    text = bytes(raw).strip()
    if text.startswith(b'"'):
        return _from_text(msgspec.json.decode(text, type=str), currency)
    if text[:1] not in b"-0123456789":
        raise InvalidAmount(f"amount {text[:64].decode(errors='replace')} is not a number")
    return _NUMBER.decode(text)
