"""The balances endpoint's `logPosition` is the position its rows reflect, never newer.

The rows and the tracking row are read in one snapshot: a batch the runner commits between
the two reads is either wholly in the answer or wholly out of it.
"""

from __future__ import annotations

from decimal import Decimal

from eventsourcing.persistence import Tracking
from psycopg import Cursor
from psycopg.rows import DictRow

from projections.balances.postgres import PostgresBalancesView
from projections.balances.projection import BalancesProjection
from projections.balances.view import WalletMoved
from projections.balances.view import WalletOpened
from projections.rebuild import open_view

APP = "ledger"


class WriterInBetween(PostgresBalancesView):
    """A reader whose runner commits a batch right after the rows are read."""

    writer: PostgresBalancesView | None = None

    def _max_tracking_id(self, application_name: str, curs: Cursor[DictRow]) -> int | None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.apply(
                Tracking(APP, 2), [WalletMoved(wallet_id="w1", position=2, balance=Decimal("5"))]
            )
        return super()._max_tracking_id(application_name, curs)


def test_a_batch_committed_between_reading_rows_and_position_is_not_half_reported(
    env: dict[str, str],
) -> None:
    writer = open_view(BalancesProjection, PostgresBalancesView, env)
    reader = open_view(BalancesProjection, WriterInBetween, env)
    assert isinstance(writer, PostgresBalancesView) and isinstance(reader, WriterInBetween)
    try:
        writer.apply(
            Tracking(APP, 1),
            [
                WalletOpened(wallet_id="w1", player="alice", currency="EUR", position=1),
                WalletMoved(wallet_id="w1", position=1, balance=Decimal("10")),
            ],
        )
        reader.writer = writer

        during = reader.wallet("alice", APP)

        # The answer is the view before the batch: its rows and its position agree.
        assert during is not None
        assert (during.position, during.balances[0].balance) == (1, Decimal("10"))
        after = reader.wallet("alice", APP)
        assert after is not None
        assert (after.position, after.balances[0].balance) == (2, Decimal("15"))
    finally:
        reader.close()
        writer.close()
