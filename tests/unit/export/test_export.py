"""Auditor export on the library's in-memory log: selection, hash chain and offline verification."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from projections.export.chain import MANIFEST_FILE, Mismatch, Verified, verify
from projections.export.exporter import export
from projections.export.selection import PeriodQuery, RoundQuery, SessionQuery


class Round(Aggregate):
    @event("Opened")
    def __init__(self, provider: str, round_id: str) -> None:
        self.provider = provider
        self.round_id = round_id

    @event("Closed")
    def close(self) -> None:
        pass


class Wallet(Aggregate):
    @event("Opened")
    def __init__(self, player: str) -> None:
        self.player = player

    @event("Debited")
    def debit(
        self, tx_id: str, bet_id: str, round_id: str, session_id: str, amount: Decimal
    ) -> None:
        pass

    @event("RolledBack")
    def rollback(self, tx_id: str, ref_tx_id: str, amount: Decimal) -> None:
        pass


class ToyLedger(Application[UUID]):
    name = "ledger"


def build_log() -> ToyLedger:
    """Two rounds, two players; a rollback naming only the transaction it cancels."""
    app = ToyLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    alice, bob = Wallet("alice"), Wallet("bob")
    r1, r2 = Round("evo", "R-1"), Round("evo", "R-2")
    app.save(alice, bob, r1, r2)
    alice.debit("tx-1", "bet-1", "R-1", "s-a", Decimal("5.00"))
    bob.debit("tx-2", "bet-2", "R-2", "s-b", Decimal("7.00"))
    alice.debit("tx-3", "bet-3", "R-2", "s-a", Decimal("1.50"))
    app.save(alice, bob)
    r1.close()
    r2.close()
    alice.rollback("tx-4", "tx-1", Decimal("5.00"))
    app.save(r1, r2, alice)
    return app


def events_of(directory: Path) -> list[dict[str, object]]:
    lines = (directory / "events.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def test_a_round_export_holds_the_round_its_bets_and_a_late_rollback(tmp_path: Path) -> None:
    app = build_log()
    manifest = export(
        recorder=app.recorder,
        mapper=app.mapper,
        application=app.name,
        query=RoundQuery("R-1"),
        directory=tmp_path,
    )
    events = events_of(tmp_path)
    topics = [str(e["topic"]).rsplit(".", 1)[-1] for e in events]
    assert topics == ["Opened", "Debited", "Closed", "RolledBack"]
    assert manifest.events == 4
    assert manifest.scanned.last == app.recorder.max_notification_id()
    assert events[1]["data"] == {
        "tx_id": "tx-1",
        "bet_id": "bet-1",
        "round_id": "R-1",
        "session_id": "s-a",
        "amount": "5.00",
        "timestamp": events[1]["data"]["timestamp"],  # type: ignore[index]
    }
    assert isinstance(verify(tmp_path), Verified)


def test_a_session_export_follows_the_sessions_bets_across_rounds(tmp_path: Path) -> None:
    app = build_log()
    export(
        recorder=app.recorder,
        mapper=app.mapper,
        application=app.name,
        query=SessionQuery("s-a"),
        directory=tmp_path,
    )
    txs = [e["data"]["tx_id"] for e in events_of(tmp_path)]  # type: ignore[index]
    assert txs == ["tx-1", "tx-3", "tx-4"]


def test_a_period_export_takes_events_by_time(tmp_path: Path) -> None:
    app = build_log()
    notifications = app.recorder.select_notifications(1, 100)
    stamps = [app.mapper.to_domain_event(n).timestamp for n in notifications]  # type: ignore[attr-defined]
    export(
        recorder=app.recorder,
        mapper=app.mapper,
        application=app.name,
        query=PeriodQuery(stamps[4], stamps[7]),
        directory=tmp_path,
    )
    assert [e["position"] for e in events_of(tmp_path)] == [5, 6, 7]


def test_changing_one_byte_of_one_event_fails_verification_at_that_event(tmp_path: Path) -> None:
    app = build_log()
    export(
        recorder=app.recorder,
        mapper=app.mapper,
        application=app.name,
        query=RoundQuery("R-2"),
        directory=tmp_path,
    )
    assert isinstance(verify(tmp_path), Verified)
    path = tmp_path / "events.jsonl"
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)
    assert len(lines) >= 3
    # Alice's stake of 1.50 becomes 1.59: still valid JSON, one byte changed.
    target = next(i for i, line in enumerate(lines) if b'"amount":"1.50"' in line)
    offset = sum(len(line) for line in lines[:target]) + lines[target].index(b"1.50") + 3
    tampered = bytearray(original)
    tampered[offset] = ord("9")
    path.write_bytes(bytes(tampered))

    result = verify(tmp_path)

    assert isinstance(result, Mismatch)
    assert result.line == target + 1
    assert result.position == json.loads(lines[target])["event"]["position"]
    assert "does not match its hash" in result.reason


def test_any_single_byte_change_is_caught_at_its_line(tmp_path: Path) -> None:
    app = build_log()
    export(
        recorder=app.recorder,
        mapper=app.mapper,
        application=app.name,
        query=RoundQuery("R-2"),
        directory=tmp_path,
    )
    path = tmp_path / "events.jsonl"
    original = path.read_bytes()
    line_starts = [0]
    for i, byte in enumerate(original):
        if byte == ord("\n"):
            line_starts.append(i + 1)
    for offset in range(0, len(original), 7):
        if original[offset] == ord("\n"):
            continue
        tampered = bytearray(original)
        tampered[offset] = (tampered[offset] + 1) % 128 or 1
        path.write_bytes(bytes(tampered))
        result = verify(tmp_path)
        assert isinstance(result, Mismatch), offset
        expected_line = max(i for i, s in enumerate(line_starts) if s <= offset) + 1
        assert result.line == expected_line, (offset, result)


def test_a_dropped_event_or_an_edited_manifest_is_refused(tmp_path: Path) -> None:
    app = build_log()
    export(
        recorder=app.recorder,
        mapper=app.mapper,
        application=app.name,
        query=RoundQuery("R-2"),
        directory=tmp_path,
    )
    path = tmp_path / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b"".join(lines[2:]))
    dropped = verify(tmp_path)
    assert isinstance(dropped, Mismatch) and dropped.line == 2

    path.write_bytes(b"".join(lines))
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    manifest["head_hash"] = "f" * 64
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    edited = verify(tmp_path)
    assert isinstance(edited, Mismatch) and edited.line == 0


def test_an_empty_round_exports_an_empty_verifiable_chain(tmp_path: Path) -> None:
    app = build_log()
    manifest = export(
        recorder=app.recorder,
        mapper=app.mapper,
        application=app.name,
        query=RoundQuery(str(uuid4())),
        directory=tmp_path,
    )
    assert manifest.events == 0
    assert isinstance(verify(tmp_path), Verified)
