"""A funded player seated at a served bridge's Evolution wallet route, as the studio seats one."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from services.ledger.application import Ledger
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient


async def seated(
    client: TestClient[web.Request, web.Application], ledger: Ledger, player: str, secret: str
) -> tuple[EvolutionClient, dict[str, Any]]:
    """`player` with 100.00 EUR in `ledger` and an Evolution session on the bridge `client`
    serves: the provider's client and the fields every wallet call of that seat repeats
    (`sid`, `user`, `currency`), for `EvolutionClient.debit(**seat, ...)`."""

    def fund() -> None:
        ledger.open_wallet(player, "EUR")
        ledger.deposit(player, "EUR", Decimal("100.00"), tx_id=f"dep-{player}")

    await asyncio.to_thread(fund)
    route = str(client.make_url("/wallet/evolution"))
    evolution = EvolutionClient(HttpTransport(client.session, route), secret)
    session = await evolution.send(
        evolution.prepare("sid", {"userId": player, "uuid": str(uuid.uuid4())})
    )
    assert session["status"] == "OK", session
    return evolution, {"sid": session["sid"], "user": player, "currency": "EUR"}
