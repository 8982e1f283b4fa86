"""`livebridge verify` refuses every rewritten export and names what was rewritten.

A forger here holds the export and livebridge's code but not the bridge's private key: they
edit manifest fields, drop, add or reorder events and recompute the hash chain and every
count, or re-sign the result with a key of their own. Each attempt fails verification with
the bridge's public key, and the message names the field, the line or the signature.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from projections.export.chain import MANIFEST_FILE
from projections.export.chain import Manifest
from projections.export.exporter import export
from projections.export.selection import PeriodQuery
from projections.export.selection import RoundQuery
from tests.unit.export.support.toylog import build_log
from tests.unit.export.support.toylog import events_of
from tests.unit.export.support.toylog import manifest_of
from tests.unit.export.support.toylog import public_pem
from tests.unit.export.support.toylog import rechain
from tests.unit.export.support.toylog import verify
from tests.unit.export.support.toylog import write_manifest

LEGACY = Path(__file__).parent / "legacy_v1"


@pytest.fixture
def public(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    return public_pem(key, tmp_path / "export-public-key.pem")


@pytest.fixture
def signed(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    """Round R-2's export: its round, bob's and alice's bets, its close."""
    out = tmp_path / "R-2"
    export(build_log(), RoundQuery("R-2"), out, key)
    return out


def test_an_untouched_export_verifies_with_the_bridges_key_and_says_so(
    signed: Path, public: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = verify(capsys, signed, "--key", str(public))
    assert code == 0, said
    assert "verifies: 4 events" in said and "signed with key" in said

    # Without the key the events are checked, but the origin is not proven: not a pass.
    code, said = verify(capsys, signed)
    assert code == 3, said
    assert "origin is NOT proven" in said and "pass --key" in said


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = manifest
        for name in parents:
            target = target[name]
        target[last] = value

    return edit


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda manifest: manifest.pop(name)


def _bump(path: str, by: int) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = manifest
        for name in parents:
            target = target[name]
        target[last] += by

    return edit


def _retopic(manifest: dict[str, Any]) -> None:
    counts = manifest["events_by_topic"]
    first = sorted(counts)[0]
    counts[first.replace("Round", "Bet")] = counts.pop(first)


EDITS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "format": (_set("format", "livebridge-export/3"), "'format'"),
    "application": (_set("application", "cashier"), "'application'"),
    "stream": (_set("stream", "LB_LEDGER"), "'stream'"),
    "query relabelled as another round": (_set("query.round_id", "R-1"), "'query'"),
    "query of another kind": (_set("query", {"kind": "session", "session_id": "s-b"}), "'query'"),
    "created_at before the events": (
        _set("created_at", "2001-01-01T00:00:00+00:00"),
        "'created_at'",
    ),
    "created_at later": (_set("created_at", "2099-01-01T00:00:00+00:00"), "'created_at'"),
    "scanned.first": (_bump("scanned.first", 1), "'scanned'"),
    "scanned.last": (_bump("scanned.last", 50), "'scanned'"),
    "first_position": (_bump("first_position", -1), "'first_position'"),
    "last_position": (_bump("last_position", 1), "'last_position'"),
    "events": (_bump("events", -1), "'events'"),
    "events_by_topic": (_retopic, "'events_by_topic'"),
    "genesis": (_set("genesis", "1" * 64), "'genesis'"),
    "head_hash": (_set("head_hash", "f" * 64), "'head_hash'"),
    "events_file": (_set("events_file", "other.jsonl"), "'events_file'"),
    "signature removed": (_drop("signature"), "unsigned: the manifest carries no signature"),
    "signature.key_id": (_set("signature.key_id", "0" * 64), "bad signature"),
    "signature.value": (_set("signature.value", "A" * 86 + "=="), "bad signature"),
    "signature.fields": (_set("signature.fields.application", "0" * 64), "bad signature"),
}


@pytest.mark.parametrize("with_key", [True, False], ids=["with --key", "without --key"])
@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_every_edited_manifest_field_fails_verification_and_is_named(
    edit: str,
    with_key: bool,
    signed: Path,
    public: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    change, named = EDITS[edit]
    manifest = manifest_of(signed)
    if "signature" not in manifest and edit.startswith("signature"):
        manifest["signature"] = {"fields": {}}  # an unsigned export: add what the edit edits
    change(manifest)
    write_manifest(signed, manifest)

    code, said = verify(capsys, signed, *(("--key", str(public)) if with_key else ()))

    assert code == 1, said
    assert "does NOT verify" in said
    assert named in said


def test_relabelling_a_round_export_as_another_round_names_the_first_foreign_event(
    signed: Path, public: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = manifest_of(signed)
    manifest["query"]["round_id"] = "R-9"
    write_manifest(signed, manifest)

    code, said = verify(capsys, signed, "--key", str(public))

    assert code == 1
    position = events_of(signed)[0]["position"]
    assert f"line 1 (log position {position}): the event does not involve" in said
    assert "(round R-9)" in said
    assert "field 'query' was changed after the manifest was signed" in said


def _drop_last(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return events[:-1]


def _drop_first(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return events[1:]


def _swap(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [events[1], events[0], *events[2:]]


def _repeat(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*events, events[-1]]


def _restake(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed = [dict(e, data=dict(e["data"])) for e in events]
    debit = next(e for e in changed if e["data"].get("amount") == "1.50")
    debit["data"]["amount"] = "0.01"
    return changed


def _foreign(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Round R-1's debit, moved into R-2's export at its log position."""
    other = build_log()
    notifications = other.recorder.select_notifications(1, 100)
    debit = next(n for n in notifications if n.topic.endswith("Wallet.Debited"))
    stranger = dict(
        events[0],
        position=debit.id,
        topic=debit.topic,
        originator_id=str(debit.originator_id),
        originator_version=debit.originator_version,
    )
    stranger["data"] = {"tx_id": "tx-1", "bet_id": "bet-1", "round_id": "R-1", "amount": "5.00"}
    return sorted([*events, stranger], key=lambda e: int(e["position"]))


REWRITES: dict[str, tuple[Callable[[list[dict[str, Any]]], list[dict[str, Any]]], str]] = {
    "last event dropped": (_drop_last, "field 'head_hash' was changed after"),
    "first event dropped": (_drop_first, "field 'first_position' was changed after"),
    "events reordered": (_swap, "line 2"),
    "an event repeated": (_repeat, "log positions must increase"),
    "an amount changed": (_restake, "field 'head_hash' was changed after"),
    "another round's event added": (_foreign, "the event does not involve"),
}


@pytest.mark.parametrize("rewrite", REWRITES, ids=list(REWRITES))
def test_events_dropped_added_reordered_or_changed_with_the_chain_recomputed_fail(
    rewrite: str, signed: Path, public: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, named = REWRITES[rewrite]
    rechain(signed, change(events_of(signed)))

    code, said = verify(capsys, signed, "--key", str(public))

    assert code == 1, said
    assert named in said


def test_an_export_re_signed_under_another_key_is_refused_as_signed_with_another_key(
    signed: Path, public: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from projections.export.signing import sign

    rechain(signed, _restake(events_of(signed)))
    forged = msgspec.json.decode((signed / MANIFEST_FILE).read_bytes(), type=Manifest)
    forged = sign(msgspec.structs.replace(forged, signature=None), Ed25519PrivateKey.generate())
    (signed / MANIFEST_FILE).write_bytes(msgspec.json.encode(forged))

    code, said = verify(capsys, signed, "--key", str(public))

    assert code == 1, said
    assert "wrong key: the manifest is signed with key" in said
    assert "not with the given key" in said
    # Self-consistent under its own key, so without --key it is intact but not proven.
    code, said = verify(capsys, signed)
    assert code == 3, said


def test_unsigned_wrong_key_and_bad_signature_are_three_different_answers(
    signed: Path, public: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = public_pem(Ed25519PrivateKey.generate(), tmp_path / "other.pem")
    answers = []
    wrong = verify(capsys, signed, "--key", str(other))
    answers.append(wrong)
    manifest = manifest_of(signed)
    manifest["signature"]["value"] = manifest["signature"]["value"][::-1]
    write_manifest(signed, manifest)
    answers.append(verify(capsys, signed, "--key", str(public)))
    del manifest["signature"]
    write_manifest(signed, manifest)
    answers.append(verify(capsys, signed, "--key", str(public)))

    assert [code for code, _ in answers] == [1, 1, 1]
    assert "wrong key:" in answers[0][1]
    assert "bad signature:" in answers[1][1]
    assert "unsigned:" in answers[2][1]


def test_a_legacy_unsigned_export_is_checked_and_reported_as_legacy(
    tmp_path: Path, public: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY, legacy)

    code, said = verify(capsys, legacy, "--key", str(public))

    assert code == 3, said
    assert "4 events" in said and "unsigned (legacy) export" in said
    # No stream named, nothing to read back: said before any connection is tried.
    code, said = verify(capsys, legacy, "--against", "nats://127.0.0.1:1")
    assert code == 2 and "legacy livebridge-export/1 manifest names no stream" in said

    manifest = manifest_of(legacy)
    manifest["query"]["round_id"] = "R-2"
    write_manifest(legacy, manifest)
    code, said = verify(capsys, legacy, "--key", str(public))
    assert code == 1 and "(round R-2)" in said


@pytest.mark.parametrize("stamp", ["2026-11-22T18:45:03", "yesterday"], ids=["no zone", "no time"])
def test_a_period_export_whose_event_time_was_rewritten_fails_verification_without_a_traceback(
    stamp: str,
    tmp_path: Path,
    key: Ed25519PrivateKey,
    public: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(UTC)
    out = tmp_path / "hour"
    export(build_log(), PeriodQuery(now - timedelta(hours=1), now + timedelta(hours=1)), out, key)
    events = events_of(out)
    events[0]["data"]["timestamp"] = stamp
    rechain(out, events)

    code, said = verify(capsys, out, "--key", str(public))

    assert code == 1, said
    assert "line 1 (log position 1): the event does not involve the manifest's query" in said
