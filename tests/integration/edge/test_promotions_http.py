"""Promotions over real HTTP, JetStream and PostgreSQL: paid once, in round.settle and reconcile.

A provider's promotion payout is sent twice (its retry after a lost answer); the player is
paid once, the platform's round.settle tracker reports one settlement with its cause, and
the reconcile view lists it under the provider's transaction id, matching the provider's
report line of type `promo`.
"""

from __future__ import annotations

import asyncio
import csv
import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from projections.catalog import view_env
from projections.rebuild import catch_up
from projections.rebuild import open_view
from projections.reconcile.postgres import PostgresReconcileView
from projections.reconcile.projection import ReconcileProjection
from projections.reconcile.report import open_report
from services.ledger.application import Ledger
from services.platform.publisher import log_reader
from services.platform.settle import SettleTracker
from tests.integration.edge.support.served_edge import OPENING
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.served_edge import served_edge
from tests.integration.support.ledgers import jetstream_env

SECRET = b"evo-promo-TEST-ONLY"
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def _settlements(ledger: Ledger) -> list[Any]:
    tracker, out = SettleTracker(), []
    for position, event, _trace in log_reader(ledger)(1, 100_000):
        if event is not None:
            out += tracker.apply(position, event)
    return out


async def test_a_promotion_sent_twice_pays_once_and_shows_in_round_settle_and_reconcile(
    nats_url: str, stream_prefix: str, database_url: str, tmp_path: Path
) -> None:
    async with served_edge(nats_url, stream_prefix, provider("evolution", SECRET)) as edge:
        await edge.open_players(["u-1"])
        body = _ENCODER.encode(
            {
                "sid": "",
                "userId": "u-1",
                "currency": "EUR",
                "uuid": "q-1",
                "game": {"id": "g-1", "type": "roulette"},
                "promoTransaction": {
                    "id": "promo-77",
                    "amount": Decimal("5.50"),
                    "type": "FreeRoundPlayableSpent",
                    "voucherId": "v-1",
                },
            }
        )
        url = f"{edge.base('evolution')}/promo_payout?authToken={SECRET.decode()}"

        async def send() -> dict[str, Any]:
            async with edge.http.post(url, data=body) as response:
                assert response.status == 200
                answer: dict[str, Any] = await response.json()
                return answer

        first, second = await asyncio.gather(send(), send())
        third = await send()

        statuses = sorted(a["status"] for a in (first, second, third))
        assert statuses == ["BET_ALREADY_SETTLED", "BET_ALREADY_SETTLED", "OK"]
        assert await edge.balance("u-1") == OPENING + Decimal("5.50")
        settled = await asyncio.to_thread(_settlements, edge.ledger)
        (promo,) = [s for s in settled if s.transactions and s.transactions[0].cause]
        ((move,),) = [promo.transactions]
        assert (promo.round_id, promo.player, promo.bets) == ("g-1", "u-1", ())
        assert (move.type, move.amount, move.cause, move.provider_tx_id) == (
            "CREDIT",
            Decimal("5.50"),
            "PROMO",
            "promo-77",
        )
        assert promo.balance_after == OPENING + Decimal("5.50")
        assert edge.ledger.postings_total("EUR")["promo"] == Decimal("-5.50")

        schema = f"pr_{uuid.uuid4().hex[:8]}"
        views = view_env(database_url, schema=schema, names=("reconcile",))
        env = jetstream_env(nats_url, stream_prefix, **views)
        view = open_view(ReconcileProjection, PostgresReconcileView, env)
        assert isinstance(view, PostgresReconcileView)
        try:
            await asyncio.to_thread(catch_up, edge.ledger, ReconcileProjection(view))
            report = tmp_path / "evolution.csv"
            with report.open("w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(["transaction_id", "type", "amount", "currency", "round_id"])
                writer.writerow(["promo-77", "promo", "5.50", "EUR", "g-1"])
            now = datetime.now(UTC)
            window = {"start": now - timedelta(hours=1), "end": now + timedelta(hours=1)}
            compared = view.reconcile(open_report(report), provider="evolution", **window)
            assert compared.differences == []
            assert compared.matched == 1
            wrong = tmp_path / "wrong.csv"
            wrong.write_text(
                "transaction_id,type,amount,currency,round_id\npromo-77,promo,6.50,EUR,g-1\n"
            )
            mismatched = view.reconcile(open_report(wrong), provider="evolution", **window)
            assert [d.status for d in mismatched.differences] == ["mismatch"]
        finally:
            view.drop_schema()
            view.close()
