"""The ledger's bench runs end to end at a small size (the figures come from `make bench`)."""

from __future__ import annotations

from services.bench import ledger as bench


def test_every_ledger_bench_figure_can_be_measured_at_a_small_size(nats_url: str) -> None:
    assert bench.bet_write_rate(nats_url, count=10) > 0
    hot, settle_ms = bench.one_table_burst(nats_url, count=40)
    assert hot > 0 and settle_ms > 0
    assert bench.many_tables_burst(nats_url, count=40) > 0
    assert bench.wallet_load_ms(nats_url, transactions=1200, loads=2) > 0
