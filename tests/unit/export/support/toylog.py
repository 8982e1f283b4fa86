"""A small ledger-like log on the library's in-memory store, and the export commands as the
CLI runs them: what the export unit tests share."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.domain import event

from projections.export.chain import EVENTS_FILE
from projections.export.chain import GENESIS
from projections.export.chain import MANIFEST_FILE
from projections.export.chain import canonical
from projections.export.chain import link
from services.bridge.config import command_env
from services.cli import parser


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


def public_pem(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def cli(*argv: str) -> int:
    args = parser(command_env(os.environ)).parse_args(argv)
    result: int = args.handler(args)
    return result


def verify(capsys: pytest.CaptureFixture[str], directory: Path, *extra: str) -> tuple[int, str]:
    """`livebridge verify <directory> <extra>`: its exit status and all it printed."""
    capsys.readouterr()
    code = cli("verify", str(directory), *extra)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def refused_export(capsys: pytest.CaptureFixture[str], out: Path) -> tuple[str, str]:
    """`livebridge export --round R-1 --out <out>`, which must refuse (exit status 2): what
    it printed on stdout and on stderr."""
    capsys.readouterr()
    assert cli("export", "--round", "R-1", "--out", str(out)) == 2
    captured = capsys.readouterr()
    return captured.out, captured.err


def events_of(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / EVENTS_FILE).read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def manifest_of(directory: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((directory / MANIFEST_FILE).read_text())
    return manifest


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))


def rechain(directory: Path, events: list[dict[str, Any]]) -> None:
    """Rewrite the events file as a forger would: a fresh chain over `events`, and every
    manifest field the events determine made to agree; the signature left as it was."""
    head, lines = GENESIS, []
    for number, item in enumerate(events, start=1):
        head = link(head, canonical(item))
        lines.append(canonical({"event": item, "hash": head, "n": number}) + b"\n")
    (directory / EVENTS_FILE).write_bytes(b"".join(lines))
    manifest = manifest_of(directory)
    by_topic: dict[str, int] = {}
    for item in events:
        by_topic[item["topic"]] = by_topic.get(item["topic"], 0) + 1
    manifest.update(
        events=len(events),
        events_by_topic=dict(sorted(by_topic.items())),
        first_position=events[0]["position"] if events else None,
        last_position=events[-1]["position"] if events else None,
        head_hash=head,
    )
    write_manifest(directory, manifest)
