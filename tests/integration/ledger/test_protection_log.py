"""Protection is the log's, not a process's: two bridges on one nats-server see each
other's changes without a restart, and a restarted one rebuilds the same state (and the
wallet's period tallies) from the log."""

from __future__ import annotations

import threading
import time
from datetime import UTC
from datetime import datetime
from decimal import Decimal

import pytest

from contracts.player import EffectiveLimits
from contracts.player import LimitsUpdate
from contracts.protection import LimitKind
from contracts.protection import Period
from contracts.protection import ProtectionLimit
from contracts.protection import RiskFlag
from contracts.wallet import Refusal
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from services.ledger.protection import Protection
from tests.integration.ledger.test_ledger_on_jetstream import jetstream_env
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded


def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError("not within the time")


def test_a_change_through_one_bridge_reaches_the_other_and_survives_a_restart(
    nats_url: str, stream_prefix: str
) -> None:
    env = jetstream_env(nats_url, stream_prefix)
    with Protection(env=env) as one, Protection(env=env) as two, Ledger(env=env) as ledger:
        funded(ledger, "ann", "100.00")
        ledger.policy = two
        follower = threading.Thread(target=two.follow, daemon=True)
        follower.start()
        try:
            ledger.execute(debit("d-1", "10.00", player="ann"))
            one.change("ann", RiskFlag(high_risk=True, reason="KYT alert"), "casino/k1")
            one.update_limits(
                LimitsUpdate(
                    provider="evo",
                    limits=EffectiveLimits(max_bet=Decimal("50")),
                    effective_at=datetime.now(UTC),
                ),
                "casino/k1",
            )
            wait_for(lambda: two.view("ann").high_risk and two.state.limits)
            with pytest.raises(LedgerRefused) as refused:
                ledger.execute(debit("d-2", "10.00", player="ann"))
            assert refused.value.code is Refusal.SELF_EXCLUDED
            one.change("ann", RiskFlag(high_risk=False), "casino/k1")
            one.change(
                "ann",
                ProtectionLimit(
                    kind=LimitKind.STAKE, period=Period.WEEK, currency="EUR", amount="15.00"
                ),
                "casino/k1",
            )
            wait_for(lambda: not two.view("ann").high_risk and two.view("ann").limits)
            ledger.execute(debit("d-3", "5.00", player="ann"))
            with pytest.raises(LedgerRefused) as refused:
                ledger.execute(debit("d-4", "1.00", player="ann"))
            assert refused.value.code is Refusal.LIMIT_EXCEEDED
        finally:
            two.stop_following()
            follower.join(5)
        assert not follower.is_alive()

    # A restart: fresh applications read the same state and the same week's stakes.
    with Protection(env=env) as again, Ledger(env=env) as ledger:
        assert again.catch_up() > 0
        assert again.view("ann") == one.view("ann")
        assert again.limits_state() == one.limits_state()
        ledger.policy = again
        with pytest.raises(LedgerRefused) as refused:
            ledger.execute(debit("d-5", "1.00", player="ann"))
        assert refused.value.code is Refusal.LIMIT_EXCEEDED
        assert ledger.balance("ann", "EUR").available == Decimal("85.00")
