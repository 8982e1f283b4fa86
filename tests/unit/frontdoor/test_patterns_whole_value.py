"""A pattern checks the whole value: a trailing newline is not a country.

Python's `$` also matches before a final newline, so `^[A-Z]{2}$` took "GB\\n": a session
launched with it matched no limits rule for GB and bet under a profile GB may not use.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from contracts.launch import Country
from contracts.launch import Language
from contracts.protection import ProfileName
from services.frontdoor.openapi import ecma_patterns


@pytest.mark.parametrize(
    ("kind", "good"), [(Country, "GB"), (Language, "en-GB"), (ProfileName, "VIP_A")]
)
def test_a_value_with_a_trailing_newline_does_not_match(kind: Any, good: str) -> None:
    assert msgspec.convert(good, kind) == good
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(good + "\n", kind)


def test_the_published_pattern_is_the_ecma_one() -> None:
    schema = msgspec.json.schema(Country)
    assert ecma_patterns(schema)["pattern"] == "^[A-Z]{2}$"
