"""A debit reads nothing of its round: what its process knows decides a fast refusal, and
the round book decides every bet the log puts after a close another process wrote (I5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.wallet import Refusal
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from services.ledger.views import BetStatus
from tests.integration.ledger.test_ledger_on_jetstream import jetstream_env
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import opened


def test_a_round_closed_by_another_process_is_refused_here_once_a_follower_read_the_close(
    nats_url: str, stream_prefix: str
) -> None:
    env = jetstream_env(nats_url, stream_prefix)
    with Ledger(env=env) as feeds, Ledger(env=env) as wallets:
        funded(wallets, "p1", "100")
        feeds.record_event(opened())
        wallets.execute(debit("t0", "10", bet_id="b0"))  # on time
        feeds.record_event(closed())
        # This process has not read the close yet: the bet is placed without a read of its
        # round, and the round book, reading the log in order, refunds it as late.
        wallets.execute(debit("t1", "10", bet_id="b1"))
        assert wallets.balance("p1", "EUR").available == Decimal("80.00")
        wallets.drain_round_book()
        bets = {b.bet_id: b for b in wallets.round_state("evo", "r1").bets}
        assert (bets["b0"].status, bets["b0"].cause) == (BetStatus.OPEN, "")
        assert (bets["b1"].status, bets["b1"].cause) == (BetStatus.REFUNDED, "LATE_BET")
        # The follower read the close: the next bet is refused at once, nothing held.
        with pytest.raises(LedgerRefused) as refused:
            wallets.execute(debit("t2", "10", bet_id="b2"))
        assert refused.value.code is Refusal.BETTING_CLOSED
        assert wallets.balance("p1", "EUR").available == Decimal("90.00")
        # The process that recorded the close knew it from its own write.
        note = feeds.known_rounds.get("evo", "r1")
        assert note is not None and note.betting_closed and note.table == "T1"
