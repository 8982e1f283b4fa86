"""The checker reads the calls the simulator's real clients make, in every dialect.

Each call goes through the `RecordingTransport` to a canned answer (no socket), and the
checker, reading the history line, names the transaction the bridge keeps it under and
classifies the answer, with its own reading of the dialect.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.checker.dialects import INDEFINITE
from services.checker.dialects import OK
from services.checker.dialects import REFUSED
from services.checker.dialects import wallet_operations
from services.checker.history import HistoryWriter
from services.checker.history import read_history
from services.simulate.clients.base import Answer
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import TransportError
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet as ss_bet
from services.simulate.clients.softswiss import rollback as ss_rollback
from services.simulate.recording import RecordingTransport

KEY = Path(__file__).resolve().parents[2] / "keys" / "hub88_TEST_ONLY_private.pem"
D = Decimal("2.50")


class Canned:
    def __init__(self, answer: Answer | None) -> None:
        self.answer = answer

    async def send(self, call: PreparedCall) -> Answer:
        if self.answer is None:
            raise TransportError("no answer after 4 attempts (timeout)")
        return self.answer


def calls() -> list[tuple[str, PreparedCall, list[str]]]:
    hub88 = Hub88Client(Canned(None), load_private_key(KEY.read_bytes()))
    evo = EvolutionClient(Canned(None), "evo-token")
    pp = PragmaticClient(Canned(None), "pp-secret")
    ss = SoftSwissClient(Canned(None), "ss-token")
    ez = EzugiClient(Canned(None), "ez-secret", 7)
    common: dict[str, Any] = {"user": "p1", "token": "tok", "round_id": "r1", "currency": "EUR"}
    evo_tx: dict[str, Any] = {"sid": "s", "user": "p1", "currency": "EUR", "game_id": "r1"}
    evo_tx |= {"tx_id": "e1", "ref_id": "e1", "amount": D}
    return [
        ("hub88", hub88.bet_call(tx="b1", amount=D, **common), ["b1"]),
        ("hub88", hub88.win_call(tx="w1", bet_tx="b1", amount=D, **common), ["w1"]),
        (
            "hub88",
            hub88.rollback_call(user="p1", token="t", round_id="r1", tx="x", ref_tx="b1"),
            ["x"],
        ),
        ("hub88", hub88.balance_call(user="p1", token="tok"), []),
        ("evolution", evo.transaction_call("debit", **evo_tx), ["e1"]),
        ("evolution", evo.transaction_call("cancel", **evo_tx), ["cancel:e1"]),
        ("pragmatic", pp.bet_call(user="p1", round_id="r1", reference="pb1", amount=D), ["pb1"]),
        (
            "pragmatic",
            pp.result_call(user="p1", round_id="r1", reference="pr1", amount=D),
            ["result:pr1"],
        ),
        ("pragmatic", pp.refund_call(user="p1", reference="pb1"), ["refund:pb1"]),
        ("pragmatic", pp.end_round_call(user="p1", round_id="r1"), ["endRound:r1:p1"]),
        (
            "softswiss",
            ss.play_call(
                user="p1",
                currency="EUR",
                round_id="r1",
                actions=[ss_bet("a1", D, "EUR"), ss_bet("a2", D, "EUR")],
            ),
            ["a1", "a2"],
        ),
        (
            "softswiss",
            ss.play_call(
                user="p1",
                currency="EUR",
                round_id="r1",
                actions=[ss_bet("a3", D, "EUR")],
                finished=True,
            ),
            ["a3", "finished:r1:p1"],
        ),
        (
            "softswiss",
            ss.rollback_call(
                user="p1", currency="EUR", round_id="r1", actions=[ss_rollback("rb1", "a1")]
            ),
            ["rb1"],
        ),
        (
            "ezugi",
            ez.debit_call(user="p1", token="t", tx="z1", round_id=5, amount=D, currency="EUR"),
            ["z1"],
        ),
        (
            "ezugi",
            ez.rollback_call(user="p1", debit_tx="z1", round_id=5, amount=D, currency="EUR"),
            ["rollback:z1"],
        ),
    ]


async def test_every_dialect_call_names_the_transaction_the_bridge_keeps(tmp_path: Path) -> None:
    history = HistoryWriter(tmp_path / "history.jsonl")
    expected: list[list[str]] = []
    for dialect, call, ids in calls():
        transport = RecordingTransport(Canned(None), history, provider="p", dialect=dialect)
        with pytest.raises(TransportError):
            await transport.send(call)
        expected.append(ids)
    history.close()
    attempts = list(read_history(tmp_path / "history.jsonl"))
    assert len(attempts) == len(expected)
    for attempt, ids in zip(attempts, expected, strict=True):
        found = wallet_operations(attempt)
        assert [key[1] for key, _, _ in found] == ids, attempt
        assert all(outcome == INDEFINITE for _, outcome, _ in found)


@pytest.mark.parametrize(
    ("dialect", "status", "body", "outcome"),
    [
        ("hub88", 200, {"status": "RS_OK"}, OK),
        ("hub88", 200, {"status": "RS_ERROR_UNKNOWN"}, INDEFINITE),
        ("hub88", 200, {"status": "RS_ERROR_NOT_ENOUGH_MONEY"}, REFUSED),
        ("evolution", 200, {"status": "OK"}, OK),
        ("evolution", 200, {"status": "TEMPORARY_ERROR"}, INDEFINITE),
        ("evolution", 200, {"status": "BET_ALREADY_EXIST"}, INDEFINITE),
        ("evolution", 200, {"status": "INSUFFICIENT_FUNDS"}, REFUSED),
        ("pragmatic", 200, {"error": 0}, OK),
        ("pragmatic", 200, {"error": 100}, INDEFINITE),
        ("pragmatic", 200, {"error": 1}, REFUSED),
        ("softswiss", 200, {"balance": 1}, OK),
        ("softswiss", 503, {"code": 500}, INDEFINITE),
        ("softswiss", 412, {"code": 100}, REFUSED),
        ("ezugi", 200, {"errorCode": 0}, OK),
        ("ezugi", 503, {"errorCode": 1}, INDEFINITE),
        ("ezugi", 200, {"errorCode": 3}, REFUSED),
    ],
)
async def test_answers_are_classified_in_the_dialects_own_words(
    tmp_path: Path, dialect: str, status: int, body: dict[str, object], outcome: str
) -> None:
    call = next(c for d, c, ids in calls() if d == dialect and ids)
    history = HistoryWriter(tmp_path / "h.jsonl")
    answer = Answer(status, json.dumps(body).encode())
    await RecordingTransport(Canned(answer), history, provider="p", dialect=dialect).send(call)
    history.close()
    (attempt,) = read_history(tmp_path / "h.jsonl")
    assert {found[1] for found in wallet_operations(attempt)} == {outcome}
