"""What the checker's tests say a provider offered: its wallet calls, in Hub88's words."""

from __future__ import annotations

import json

from services.checker.history import Attempt


def wallet_call(tx: str, answer: str = "RS_OK", *, error: str = "") -> Attempt:
    """A provider's wallet call naming `tx` (Hub88's words), and what it got."""
    return Attempt(
        kind="wallet",
        provider="evo",
        dialect="hub88",
        path="transaction/bet",
        body=json.dumps({"transaction_uuid": tx}),
        status=None if error else 200,
        answer="" if error else json.dumps({"status": answer}),
        error=error,
    )
