"""Amount checks every dialect shares, on top of `contracts.money`."""

from __future__ import annotations

from decimal import Decimal

from contracts.money import InvalidAmount, check_amount

MAX_MAJOR = Decimal(10) ** 13
"""No wallet call moves more than 10 trillion major units; a bigger figure is malformed."""


def wire_amount(value: Decimal, currency: str, *, max_places: int = 18) -> Decimal:
    """A decoded wire amount made currency-exact; `InvalidAmount` for anything else.

    Refuses NaN, infinities, negatives (and -0), more decimals than the currency (or the dialect,
    `max_places`) allows, and magnitudes no casino moves.
    """
    if not value.is_finite() or abs(value) > MAX_MAJOR:
        raise InvalidAmount(f"amount {value} is not a finite amount below {MAX_MAJOR}")
    if value.is_signed():
        raise InvalidAmount(f"amount {value} carries a minus sign")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places and value != value.to_integral():
        raise InvalidAmount(f"amount {value} has more than {max_places} decimals")
    try:
        return check_amount(value, currency)
    except ArithmeticError:
        raise InvalidAmount(f"amount {value} is out of range") from None
