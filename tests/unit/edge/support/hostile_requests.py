"""Hypothesis strategies for hostile wallet requests, shared by the dialect fuzz tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def bad_integer_amounts() -> st.SearchStrategy[Any]:
    """Never a valid integer amount in minor units: floats, negatives, huge, text, NaN."""
    return st.one_of(
        st.floats(),  # includes 2.0, NaN and infinities, all refused for an integer field
        st.integers(max_value=-1),
        st.integers(min_value=10**15 + 1),
        st.text(max_size=12),
        st.sampled_from(["NaN", "Infinity", "-1", "1e3", "2.50"]),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
    )


def bad_decimal_amounts() -> st.SearchStrategy[Any]:
    """Never a valid EUR amount as a JSON number: negative, over-precise, NaN, huge, text."""
    return st.one_of(
        st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False, allow_infinity=False),
        st.decimals(min_value=0, max_value=10**6, places=5, allow_nan=False).filter(
            lambda d: d != d.quantize(type(d)("0.01"))
        ),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "sNaN", "1e400", "abc", ""]),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    )


def mutate(template: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = dict(template)
    changed[key] = value
    return changed
