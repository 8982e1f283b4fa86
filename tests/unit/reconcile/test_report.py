"""Provider report layouts: column aliases, per-transaction vs per-round, JSON envelopes."""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.reconcile.report import Granularity
from projections.reconcile.report import ReportError
from projections.reconcile.report import open_report


def test_a_csv_report_is_recognised_by_its_provider_column_names(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "Transaction ID,TYPE,amount,Ccy,Game Round,user_id,created_at\nt1,BET,5,EUR,R,u,x\n"
    )
    report = open_report(path)
    assert report.layout.granularity is Granularity.TRANSACTION
    assert report.layout.columns == {
        "tx_id": 0,
        "type": 1,
        "amount": 2,
        "currency": 3,
        "round_id": 4,
        "player": 5,
        "occurred_at": 6,
    }
    assert b"".join(report.chunks).startswith(b"Transaction ID,")


def test_a_json_round_report_carries_its_provider_and_period(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(
        '{"provider": "ezugi", "from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z",'
        ' "rounds": [{"roundId": "R-1", "bets": 10.5, "wins": "3", "ggr": 7.5}]}'
    )
    report = open_report(path)
    assert report.layout.granularity is Granularity.ROUND
    assert report.provider == "ezugi" and report.start is not None and report.end is not None
    assert b"".join(report.chunks).decode().splitlines() == [
        "roundId,bets,wins,ggr",
        "R-1,10.5,3,7.5",
    ]


def test_a_report_without_ids_is_refused_with_its_columns_named(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("foo,bar\n1,2\n")
    with pytest.raises(ReportError, match=r"\['foo', 'bar'\]"):
        open_report(path)
    other = tmp_path / "r.xml"
    other.write_text("<x/>")
    with pytest.raises(ReportError, match=r"use \.csv or \.json"):
        open_report(other)


def test_crlf_and_lf_lines_reach_copy_as_lf_whatever_the_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"tx_id,type,amount\r\nt1,BET,5\r\nt2,WIN,0\nt3,BET,1\r\n")
    for size in (1, 2, 3, 5, 1 << 20):
        monkeypatch.setattr("projections.reconcile.report.CHUNK", size)
        chunks = list(open_report(path).chunks)
        assert b"".join(chunks) == b"tx_id,type,amount\nt1,BET,5\nt2,WIN,0\nt3,BET,1\n", size


def test_a_csv_report_that_is_not_utf8_is_refused_as_a_report_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("transaction_id,montant,açaí\n".encode("latin-1"))
    with pytest.raises(ReportError, match="not UTF-8 text"):
        open_report(path)
