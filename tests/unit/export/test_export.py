"""Auditor export on the library's in-memory log: selection, hash chain and offline verification."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from projections.export.chain import MANIFEST_FILE
from projections.export.exporter import export
from projections.export.selection import PeriodQuery
from projections.export.selection import RoundQuery
from projections.export.selection import SessionQuery
from projections.export.signing import Origin
from projections.export.verify import verify
from tests.unit.export.support.toylog import build_log
from tests.unit.export.support.toylog import events_of


def intact(directory: Path) -> bool:
    report = verify(directory)
    return not report.problems and report.origin.origin is Origin.NOT_CHECKED


def round_2_exported(directory: Path, key: Ed25519PrivateKey) -> Path:
    """Round R-2 of the toy log exported into `directory`: its events file, to tamper with."""
    export(build_log(), RoundQuery("R-2"), directory, key)
    return directory / "events.jsonl"


def test_a_round_export_holds_the_round_its_bets_and_a_late_rollback(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    app = build_log()
    manifest = export(app, RoundQuery("R-1"), tmp_path, key)
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
        "timestamp": events[1]["data"]["timestamp"],
    }
    assert intact(tmp_path)


def test_a_session_export_follows_the_sessions_bets_across_rounds(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    app = build_log()
    export(app, SessionQuery("s-a"), tmp_path, key)
    txs = [e["data"]["tx_id"] for e in events_of(tmp_path)]
    assert txs == ["tx-1", "tx-3", "tx-4"]


def test_a_period_export_takes_events_by_time(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    app = build_log()
    notifications = app.recorder.select_notifications(1, 100)
    stamps = [app.mapper.to_domain_event(n).timestamp for n in notifications]  # type: ignore[attr-defined]
    export(app, PeriodQuery(stamps[4], stamps[7]), tmp_path, key)
    assert [e["position"] for e in events_of(tmp_path)] == [5, 6, 7]


def test_changing_one_byte_of_one_event_fails_verification_at_that_event(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    path = round_2_exported(tmp_path, key)
    assert intact(tmp_path)
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)
    assert len(lines) >= 3
    # Alice's stake of 1.50 becomes 1.59: still valid JSON, one byte changed.
    target = next(i for i, line in enumerate(lines) if b'"amount":"1.50"' in line)
    offset = sum(len(line) for line in lines[:target]) + lines[target].index(b"1.50") + 3
    tampered = bytearray(original)
    tampered[offset] = ord("9")
    path.write_bytes(bytes(tampered))

    [result] = verify(tmp_path).problems

    assert result.line == target + 1
    assert result.position == json.loads(lines[target])["event"]["position"]
    assert "does not match its hash" in result.reason


def test_any_single_byte_change_is_caught_at_its_line(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    path = round_2_exported(tmp_path, key)
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
        problems = verify(tmp_path).problems
        assert problems, offset
        result = problems[0]
        expected_line = max(i for i, s in enumerate(line_starts) if s <= offset) + 1
        assert result.line == expected_line, (offset, result)


def test_a_dropped_event_or_an_edited_manifest_is_refused(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    path = round_2_exported(tmp_path, key)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b"".join(lines[2:]))
    dropped = verify(tmp_path).problems
    assert dropped[0].line == 2

    path.write_bytes(b"".join(lines))
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    manifest["head_hash"] = "f" * 64
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    edited = verify(tmp_path).problems
    assert edited and all(problem.line == 0 for problem in edited)


def test_an_empty_round_exports_an_empty_verifiable_chain(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    app = build_log()
    manifest = export(app, RoundQuery(str(uuid4())), tmp_path, key)
    assert manifest.events == 0
    assert intact(tmp_path)
