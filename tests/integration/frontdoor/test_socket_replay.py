"""A reconnect after a long absence: more was missed than one reconnect reads again
(`MAX_REPLAY`), and what it reads is the newest, so the round open now and the player's
latest settlement are among it."""

from __future__ import annotations

import asyncio
from datetime import UTC
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from services.frontdoor import pushes
from tests.integration.frontdoor import test_lifecycle
from tests.integration.frontdoor.conftest import Bridge
from tests.integration.frontdoor.test_bets import bet
from tests.integration.frontdoor.test_bets import place
from tests.integration.frontdoor.test_bets import record
from tests.integration.frontdoor.test_lifecycle import closed
from tests.integration.frontdoor.test_lifecycle import next_push
from tests.integration.frontdoor.test_lifecycle import opened
from tests.integration.frontdoor.test_lifecycle import result
from tests.integration.frontdoor.test_sessions import evo_session
from tests.unit.ledger.support import builders

bridge_settings = test_lifecycle.bridge_settings
webhook = test_lifecycle.webhook
"""The life cycle's bridge, which settles evo's rounds and publishes round.settle."""


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    pushed = await next_push(ws)
    while pushed["type"] != kind:
        pushed = await next_push(ws)
    return pushed


async def replayed(bridge: Bridge, path: str) -> list[tuple[str, str]]:
    """What a reconnect on `path` is sent (type and round) until it falls quiet."""
    sent: list[tuple[str, str]] = []
    async with bridge.client.ws_connect(path) as ws:
        with pytest.raises(TimeoutError):
            while True:
                pushed = await asyncio.wait_for(next_push(ws), 2)
                round_id = pushed.get("roundId") or pushed.get("settle", {}).get("roundId", "")
                sent.append((pushed["type"], round_id))
    return sent


async def test_a_long_absence_is_sent_the_round_open_now_not_the_oldest_missed(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = await evo_session(bridge, "ria")
    path = f"/platform/v1/player/socket?token={token}"
    async with bridge.client.ws_connect(path) as ws:
        await record(bridge, opened("R-first"))
        position = (await next_of(ws, "betting.opened"))["logPosition"]
        # While the player is away, 510 rounds open at another table, then one at its own.
        await asyncio.gather(
            *(
                record(bridge, builders.opened(f"R-other-{n}", table="T9", at=datetime.now(UTC)))
                for n in range(510)
            )
        )
        await record(bridge, opened("R-now"))
        assert (await next_of(ws, "betting.opened"))["roundId"] == "R-now"

    # One reconnect reads at most 100 round events again: read from its position on, they
    # were the oldest 500 (a page), all at T9, and R-now was never sent.
    monkeypatch.setattr(pushes, "MAX_REPLAY", 100)
    assert ("betting.opened", "R-now") in await replayed(bridge, f"{path}&position={position}")


async def test_a_long_absence_is_sent_the_players_latest_settlement(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid, token = await evo_session(bridge, "mia")
    others = [await evo_session(bridge, f"other-{n}") for n in range(3)]
    path = f"/platform/v1/player/socket?token={token}"
    async with bridge.client.ws_connect(path) as ws:
        await record(bridge, opened("R-a"))
        position = (await next_of(ws, "betting.opened"))["logPosition"]
        await record(bridge, opened("R-b"))
        # Three other players bet in R-a, this one in R-b; R-a settles first.
        for n, (other_sid, other_token) in enumerate(others):
            status, _ = await place(bridge, other_token, bet(other_sid, "R-a", f"other-{n}"))
            assert status == 200
        status, _ = await place(bridge, token, bet(sid, "R-b", "mine"))
        assert status == 200
        for round_id in ("R-a", "R-b"):
            await record(bridge, closed(round_id))
            await record(bridge, result(round_id, 17))
        assert (await next_of(ws, "round.settled"))["settle"]["roundId"] == "R-b"

    # One reconnect reads at most 2 settlements again: read from its position on, they
    # were the other players' two oldest, and this player's settlement was never sent.
    monkeypatch.setattr(pushes, "MAX_REPLAY", 2)
    assert ("round.settled", "R-b") in await replayed(bridge, f"{path}&position={position}")
