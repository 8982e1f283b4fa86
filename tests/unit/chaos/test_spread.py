"""How a chaos run's load reaches two bridges: wallet calls alternate between them call by
call (so one player's bet and its win land on different bridges), and a call one bridge
does not answer goes on to the other."""

from __future__ import annotations

import pytest

from services.chaos.load import SpreadTransport
from services.simulate.clients.base import Answer
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import TransportError


class Bridge:
    """A bridge's transport that answers 200 with its name, or fails while `down`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down = False
        self.calls: list[str] = []

    async def send(self, call: PreparedCall) -> Answer:
        self.calls.append(call.path)
        if self.down:
            raise TransportError(f"{self.name}: no answer")
        return Answer(200, self.name.encode())


async def test_one_players_calls_alternate_between_the_bridges() -> None:
    one, two = Bridge("one"), Bridge("two")
    spread = SpreadTransport([one, two])
    answers = [await spread.send(PreparedCall(path=p, body=b"")) for p in ("bet", "win", "bet")]
    assert [a.body for a in answers] == [b"one", b"two", b"one"]
    assert (one.calls, two.calls) == (["bet", "bet"], ["win"])


async def test_a_call_the_bridge_does_not_answer_goes_on_to_the_other() -> None:
    one, two = Bridge("one"), Bridge("two")
    one.down = True
    spread = SpreadTransport([one, two])
    answer = await spread.send(PreparedCall(path="bet", body=b""))
    assert answer.body == b"two" and one.calls == ["bet"] and two.calls == ["bet"]


async def test_a_call_no_bridge_answers_fails_after_asking_each_once() -> None:
    one, two = Bridge("one"), Bridge("two")
    one.down = two.down = True
    spread = SpreadTransport([one, two])
    with pytest.raises(TransportError, match="two: no answer"):
        await spread.send(PreparedCall(path="bet", body=b""))
    assert (one.calls, two.calls) == (["bet"], ["bet"])
