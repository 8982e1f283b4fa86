"""A view knows which log it was built from, and is built again when the log is another.

A fresh `LIVEBRIDGE_HOME` is a new nats store, so a new ledger stream, while the
database still holds views built from the old one: their positions mean nothing there.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from projections.catalog import view_env
from projections.run import running_projections
from services.ledger.application import Ledger


def funded(env: dict[str, str], players: list[str]) -> Ledger:
    ledger = Ledger(env)
    for player in players:
        ledger.open_wallet(player, "EUR")
        ledger.deposit(player, "EUR", Decimal("10.00"), tx_id=f"dep-{player}")
    return ledger


def test_views_built_from_another_log_are_built_again_from_this_one(
    nats_url: str, database_url: str, schema: str
) -> None:
    views_env = view_env(database_url, schema=schema)
    old_log = {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM_PREFIX": "OLD" + uuid.uuid4().hex[:8].upper(),
    }
    old = funded(old_log, [f"old-{n}" for n in range(6)])
    try:
        with running_projections({**old_log, **views_env}) as views:
            views.wait(old.recorder.max_notification_id(), 30)
            assert views.balances.wallet("old-0", old.name) is not None
    finally:
        old.close()

    # The new log is shorter than the views' position: before, its events were skipped.
    new_log = {**old_log, "NATS_STREAM_PREFIX": "NEW" + uuid.uuid4().hex[:8].upper()}
    new = funded(new_log, ["newcomer"])
    try:
        with running_projections({**new_log, **views_env}) as views:
            views.wait(new.recorder.max_notification_id(), 30)
            found = views.balances.wallet("newcomer", new.name)
            assert found is not None and found.balances[0].balance == Decimal("10.00")
            assert views.balances.wallet("old-0", new.name) is None
            assert found.position == new.recorder.max_notification_id()
        # Started again on the same log, the views are kept as they are.
        with running_projections({**new_log, **views_env}) as views:
            assert views.balances.wallet("newcomer", new.name) is not None
    finally:
        new.close()
