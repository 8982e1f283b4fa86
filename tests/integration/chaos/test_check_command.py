"""`livebridge check` reads a real ledger stream raw from JetStream and judges a history
against it: clean when the history matches, exit 1 on an acknowledged call the log lacks."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from services.checker import commands
from services.checker.history import Attempt
from services.checker.history import HistoryWriter
from services.ledger.application import Ledger
from tests.unit.checker.support.attempts import wallet_call
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import opened


def test_check_judges_a_history_against_the_stream_it_reads_raw(
    nats_url: str, stream_prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM_PREFIX": stream_prefix,
    }
    ledger = Ledger(env)
    try:
        ledger.open_wallet("p1", "EUR")
        ledger.deposit("p1", "EUR", Decimal("50.00"), tx_id="casino:dep-p1")
        ledger.record_event(opened())
        ledger.execute(debit("t1", "10.00"))
        ledger.record_event(closed())
        ledger.record_event(declared({"number": "17"}))
        ledger.execute(credit("w1", "360.00"))
    finally:
        ledger.close()
    deposit = {"idempotencyKey": "dep-p1", "currency": "EUR", "amount": "50.00"}
    history = HistoryWriter(tmp_path / "h.jsonl")
    for attempt in (
        Attempt(kind="cashier", provider="casino", body=json.dumps(deposit), status=200),
        wallet_call("t1"),
        wallet_call("w1"),
    ):
        history.record(attempt)
    history.close()
    args = argparse.Namespace(
        history=str(tmp_path / "h.jsonl"),
        nats_url=nats_url,
        stream=f"{stream_prefix}_LEDGER",
        database_url="",
    )
    assert commands.main(args, {}) == 0
    clean = json.loads(capsys.readouterr().out)
    assert (clean["offered"], clean["acknowledged"], clean["lost"]) == (3, 3, 0)
    assert clean["log_events"] > 10

    with (tmp_path / "h.jsonl").open("a") as more:
        more.write(msgspec.json.encode(wallet_call("t-never")).decode() + "\n")
    assert commands.main(args, {}) == 1
    judged = json.loads(capsys.readouterr().out)
    assert judged["lost"] == 1
    assert judged["examples"] == ["tx evo/t-never: acknowledged, not in the log (I6)"]
