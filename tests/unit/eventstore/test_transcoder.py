"""The msgspec transcoder writes the bytes the library's JSON transcoder writes, and reads
back what either wrote."""

from __future__ import annotations

import enum
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import DatetimeAsISO
from eventsourcing.persistence import DecimalAsStr
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.persistence import TranscodingNotRegisteredError
from eventsourcing.persistence import UUIDAsHex
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from services.eventstore.transcoder import MsgspecTranscoder


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    return transcoder


LIBRARY = registered(JSONTranscoder())
MSGSPEC = registered(MsgspecTranscoder())


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3, minutes=-30))])),
    st.sampled_from([Colour.RED, Level.HIGH]),
)
keys = st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats())
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=6))
def test_the_msgspec_transcoder_writes_the_library_transcoders_bytes(state: dict[str, Any]) -> None:
    written = MSGSPEC.encode(state)

    assert written == LIBRARY.encode(state)
    assert MSGSPEC.decode(written) == LIBRARY.decode(written)


def test_control_characters_and_every_escape_are_written_alike() -> None:
    text = "".join(chr(c) for c in range(0x00, 0x80)) + "\u2028\u2029é✓\U0001f600"
    state = {text: [text, {"k": text}]}

    assert MSGSPEC.encode(state) == LIBRARY.encode(state)


def test_an_event_state_round_trips_to_equal_values() -> None:
    state = {
        "timestamp": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        "amount": Decimal("20.00"),
        "postings": {"player:p1": Decimal("-20.00"), "house": Decimal("20.00")},
        "bet": UUID(int=7),
        "selections": [{"market": "red", "value": ""}],
    }

    written = MSGSPEC.encode(state)

    assert written == LIBRARY.encode(state)
    assert MSGSPEC.decode(written) == state == LIBRARY.decode(written)


def test_nan_written_by_the_library_is_read_back() -> None:
    written = LIBRARY.encode({"x": float("nan"), "y": Decimal("1.5")})

    decoded = MSGSPEC.decode(written)

    assert decoded["y"] == Decimal("1.5") and decoded["x"] != decoded["x"]


def test_a_type_nobody_registered_is_refused_as_the_library_refuses_it() -> None:
    for transcoder in (LIBRARY, MSGSPEC):
        with pytest.raises(TranscodingNotRegisteredError):
            transcoder.encode({"when": timedelta(seconds=1)})
        with pytest.raises(TranscodingNotRegisteredError):
            transcoder.encode({"raw": b"bytes"})


def test_keys_that_json_writes_alike_are_written_as_the_library_writes_them() -> None:
    state = {"k": {"false": 1, False: 2, 1: 3, "1": 4}}

    assert MSGSPEC.encode(state) == LIBRARY.encode(state)
