"""An export of the real ledger proves where it came from: signed by the bridge's key, and
with `--against`, the same as the log it was read from.

The forger of the later tests holds the bridge's private key (an insider) so the export's
signature holds; only reading the log back tells their export from the bridge's.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from projections.export.chain import MANIFEST_FILE
from projections.export.chain import Manifest
from projections.export.signing import private_key_from_pem
from projections.export.signing import sign
from tests.integration.export.test_export_ledger import played
from tests.unit.export.support.toylog import cli
from tests.unit.export.support.toylog import events_of
from tests.unit.export.support.toylog import manifest_of
from tests.unit.export.support.toylog import rechain
from tests.unit.export.support.toylog import refused_export
from tests.unit.export.support.toylog import verify
from tests.unit.export.support.toylog import write_manifest


def resign(directory: Path, key: Ed25519PrivateKey) -> None:
    manifest = msgspec.json.decode((directory / MANIFEST_FILE).read_bytes(), type=Manifest)
    signed = sign(msgspec.structs.replace(manifest, signature=None), key)
    (directory / MANIFEST_FILE).write_bytes(msgspec.json.encode(signed))


@pytest.fixture
def exported(env: dict[str, str], public_key: Path, tmp_path: Path) -> Path:
    played(env)
    out = tmp_path / "R-1"
    assert cli("export", "--round", "R-1", "--out", str(out)) == 0
    return out


def bridge_key(public_key: Path) -> Ed25519PrivateKey:
    return private_key_from_pem(
        (public_key.parent / "export-signing-key.pem").read_bytes(), "the test's key"
    )


def test_a_signed_round_export_verifies_offline_and_against_its_log(
    env: dict[str, str],
    exported: Path,
    public_key: Path,
    nats_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = manifest_of(exported)
    assert manifest["format"] == "livebridge-export/2"
    assert manifest["stream"] == f"{env['NATS_STREAM_PREFIX']}_LEDGER"
    assert manifest["query"] == {"kind": "round", "round_id": "R-1"}
    assert manifest["signature"]["algorithm"] == "ed25519"

    code, said = verify(capsys, exported, "--key", str(public_key))
    assert code == 0, said

    code, said = verify(capsys, exported, "--key", str(public_key), "--against", nats_url)
    assert code == 0, said
    assert f"checked against the log at {nats_url}" in said


def test_a_round_export_relabelled_as_another_round_does_not_verify(
    exported: Path, public_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = manifest_of(exported)
    manifest["query"] = {"kind": "round", "round_id": "R-2"}
    write_manifest(exported, manifest)

    code, said = verify(capsys, exported, "--key", str(public_key))

    assert code == 1
    assert "does not involve the manifest's query (round R-2)" in said
    assert "field 'query' was changed after the manifest was signed" in said


def test_an_amount_changed_and_signed_again_with_the_bridges_key_is_caught_against_the_log(
    exported: Path, public_key: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    events = events_of(exported)
    placed = next(
        e for e in events if e["topic"].endswith("Bet.Placed") and e["data"]["stake"] == "2.00"
    )
    placed["data"]["stake"] = "0.20"
    rechain(exported, events)
    resign(exported, bridge_key(public_key))
    code, said = verify(capsys, exported, "--key", str(public_key))
    assert code == 0, said  # offline, an insider's forgery is indistinguishable

    code, said = verify(capsys, exported, "--key", str(public_key), "--against", nats_url)

    assert code == 1, said
    assert (
        f"(log position {placed['position']}): the event differs from the log's: data.stake" in said
    )
    # Without the key too: a difference from the log is a failure, not an unproven origin.
    code, said = verify(capsys, exported, "--against", nats_url)
    assert code == 1, said


def test_an_event_left_out_and_signed_again_is_caught_against_the_log(
    exported: Path, public_key: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    events = events_of(exported)
    refunded = next(e for e in events if e["topic"].endswith("Bet.Refunded"))
    rechain(exported, [e for e in events if e is not refunded])
    resign(exported, bridge_key(public_key))

    code, said = verify(capsys, exported, "--key", str(public_key), "--against", nats_url)

    assert code == 1, said
    assert (
        f"manifest (log position {refunded['position']}): the log's event at this position "
        "involves the query but the export leaves it out"
    ) in said


def test_an_export_claiming_positions_past_the_logs_end_is_caught_against_the_log(
    exported: Path, public_key: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = manifest_of(exported)
    manifest["scanned"]["last"] += 1000
    write_manifest(exported, manifest)
    resign(exported, bridge_key(public_key))

    code, said = verify(capsys, exported, "--key", str(public_key), "--against", nats_url)

    assert code == 1, said
    assert "field 'scanned' reaches log position" in said


@pytest.mark.parametrize("damage", ["a line that is not JSON", "no events file"])
def test_against_the_log_an_export_with_a_damaged_events_file_fails_without_a_traceback(
    damage: str,
    exported: Path,
    public_key: Path,
    nats_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = exported / "events.jsonl"
    if damage == "no events file":
        events.unlink()
    else:
        events.write_bytes(events.read_bytes() + b"{not json\n")

    code, said = verify(capsys, exported, "--key", str(public_key), "--against", nats_url)

    assert code == 1, said
    assert "does NOT verify" in said


def test_against_a_server_that_is_not_there_or_lacks_the_stream_is_a_clear_refusal(
    exported: Path, public_key: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"nats://127.0.0.1:{probe.getsockname()[1]}"
    code, said = verify(capsys, exported, "--key", str(public_key), "--against", closed)
    assert code == 2
    assert f"--against: cannot reach {closed}" in said

    manifest: dict[str, Any] = manifest_of(exported)
    manifest["stream"] = "NOPE_LEDGER"
    write_manifest(exported, manifest)
    resign(exported, bridge_key(public_key))
    code, said = verify(capsys, exported, "--key", str(public_key), "--against", nats_url)
    assert code == 2
    assert "holds no stream NOPE_LEDGER" in said


def test_export_without_a_configured_key_refuses_and_says_how_to_make_one(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "livebridge.toml"
    config.write_text("[[provider]]\nid = 'evo'\n")
    monkeypatch.setenv("LIVEBRIDGE_CONFIG", str(config))

    _, said = refused_export(capsys, tmp_path / "out")

    assert "no export signing key configured" in said
    assert "livebridge export-key new --out DIR" in said
    assert not (tmp_path / "out").exists()


def test_the_signing_key_may_come_from_the_environment_variable_the_configuration_names(
    env: dict[str, str],
    public_key: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    played(env)
    config = tmp_path / "by-env.toml"
    config.write_text('[export]\nsigning_key_env = "TEST_EXPORT_KEY"\n')
    monkeypatch.setenv("LIVEBRIDGE_CONFIG", str(config))
    monkeypatch.delenv("TEST_EXPORT_KEY", raising=False)
    _, said = refused_export(capsys, tmp_path / "none")
    assert "environment variable TEST_EXPORT_KEY" in said

    monkeypatch.setenv(
        "TEST_EXPORT_KEY", (public_key.parent / "export-signing-key.pem").read_text()
    )
    out = tmp_path / "by-env"
    assert cli("export", "--round", "R-1", "--out", str(out)) == 0
    code, said = verify(capsys, out, "--key", str(public_key))
    assert code == 0, said


def test_export_key_new_keeps_the_private_key_private_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "k"
    assert cli("export-key", "new", "--out", str(keys)) == 0
    said = capsys.readouterr().out
    assert "signing_key_file" in said and "--key" in said
    assert (keys / "export-signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert json.dumps((keys / "export-public-key.pem").read_text()).startswith(
        '"-----BEGIN PUBLIC KEY-----'
    )
    before = (keys / "export-signing-key.pem").read_bytes()

    assert cli("export-key", "new", "--out", str(keys)) == 2

    assert "a key is never overwritten" in capsys.readouterr().err
    assert (keys / "export-signing-key.pem").read_bytes() == before
