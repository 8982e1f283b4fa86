"""The checker's own reading of the five wallet dialects: which provider transactions a
request names, and whether its answer acknowledged, refused or left it open.

This is a second, independent reading of the dialects' published behaviour (the edge has
its own): the transaction id each request carries, and the id the bridge keeps it under
where the dialect reuses one (an Evolution cancel repeats its debit's id and is kept as
`cancel:<id>`; Pragmatic's result and refund name the bet's `reference`; an Ezugi rollback
repeats its debit's `transactionId`), and the one the bridge adds: a SoftSwiss `/play`
`finished` on a bet is answered with a zero credit `finished:<game_id>:<user_id>` that
settles the player's open bets of the round as lost. Balance, check and authenticate
calls move no money and name no operation.

Outcomes: `ok` (the dialect's success), `indefinite` (no answer, a 5xx or 429, or the
dialect's "try again" code: the call may or may not have taken effect) and `refused`
(any other answer: the dialect's definite no). Evolution answers a repeat
`BET_ALREADY_EXIST` (debit) or `BET_ALREADY_SETTLED` (credit, cancel): "done already",
by this transaction or by another on the same bet, so the checker cannot tell which and
takes it as indefinite (present at most once).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from services.checker.history import Attempt

OK = "ok"
REFUSED = "refused"
INDEFINITE = "indefinite"

TxKey = tuple[str, str]
"""(provider, transaction id as the bridge keeps it)."""

Operation = tuple[TxKey, str, bool]
"""(key, outcome, recorded when acknowledged): a few acknowledged calls may leave no
record (a Pragmatic endRound for a player without a bet): those are judged as indefinite."""


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _status_answer(
    ok: Callable[[Any], bool], again: Callable[[Any], bool]
) -> Callable[[Attempt], str]:
    def outcome(attempt: Attempt) -> str:
        if attempt.error or attempt.status is None:
            return INDEFINITE
        if attempt.status >= 500 or attempt.status == 429:
            return INDEFINITE
        body = _json(attempt.answer)
        if not isinstance(body, dict):
            return INDEFINITE if attempt.status >= 500 else REFUSED
        if ok(body) and attempt.status == 200:
            return OK
        return INDEFINITE if again(body) else REFUSED

    return outcome


EVOLUTION_NOT_SURE = frozenset(
    {"TEMPORARY_ERROR", "UNKNOWN_ERROR", "BET_ALREADY_EXIST", "BET_ALREADY_SETTLED"}
)


def _hub88(attempt: Attempt) -> list[tuple[str, bool]]:
    if attempt.path.rsplit("/", 1)[-1] not in ("bet", "win", "rollback"):
        return []
    body = _json(attempt.body) or {}
    return [(str(body.get("transaction_uuid", "")), True)]


def _evolution(attempt: Attempt) -> list[tuple[str, bool]]:
    action = attempt.path.rsplit("/", 1)[-1]
    if action not in ("debit", "credit", "cancel"):
        return []
    tx = str(((_json(attempt.body) or {}).get("transaction") or {}).get("id", ""))
    return [(f"cancel:{tx}" if action == "cancel" else tx, True)]


def _pragmatic(attempt: Attempt) -> list[tuple[str, bool]]:
    action = attempt.path.rsplit("/", 1)[-1].removesuffix(".html")
    form = dict(parse_qsl(attempt.body))
    reference = form.get("reference", "")
    if action == "bet":
        return [(reference, True)]
    if action in ("result", "refund"):
        return [(f"{action}:{reference}", True)]
    if action == "endRound":
        return [(f"endRound:{form.get('roundId', '')}:{form.get('userId', '')}", False)]
    return []


def _softswiss(attempt: Attempt) -> list[tuple[str, bool]]:
    path = attempt.path.rsplit("/", 1)[-1]
    if path not in ("play", "rollback"):
        return []
    body = _json(attempt.body) or {}
    actions = [a for a in body.get("actions") or [] if isinstance(a, dict)]
    named = [(str(a.get("action_id", "")), True) for a in actions]
    last = actions[-1] if actions else {}
    if path == "play" and body.get("finished") is True and last.get("action") == "bet":
        # Finished on a bet: the bridge settles the round lost with a zero credit.
        named.append((f"finished:{body.get('game_id')}:{body.get('user_id')}", True))
    return named


def _ezugi(attempt: Attempt) -> list[tuple[str, bool]]:
    action = attempt.path.rsplit("/", 1)[-1]
    if action not in ("debit", "credit", "rollback"):
        return []
    tx = str((_json(attempt.body) or {}).get("transactionId", ""))
    return [(f"rollback:{tx}" if action == "rollback" else tx, True)]


def _softswiss_outcome(attempt: Attempt) -> str:
    if attempt.error or attempt.status is None or attempt.status >= 500:
        return INDEFINITE
    return OK if attempt.status == 200 else REFUSED


DIALECTS: dict[str, tuple[Callable[[Attempt], list[tuple[str, bool]]], Callable[[Attempt], str]]]
DIALECTS = {
    "hub88": (
        _hub88,
        _status_answer(
            lambda b: b.get("status") == "RS_OK", lambda b: b.get("status") == "RS_ERROR_UNKNOWN"
        ),
    ),
    "evolution": (
        _evolution,
        _status_answer(
            lambda b: b.get("status") == "OK",
            lambda b: b.get("status") in EVOLUTION_NOT_SURE,
        ),
    ),
    "pragmatic": (
        _pragmatic,
        _status_answer(lambda b: b.get("error") == 0, lambda b: b.get("error") in (100, 102)),
    ),
    "softswiss": (_softswiss, _softswiss_outcome),
    "ezugi": (
        _ezugi,
        _status_answer(lambda b: b.get("errorCode") == 0, lambda b: b.get("errorCode") == 1),
    ),
}


def wallet_operations(attempt: Attempt) -> list[Operation]:
    """The provider transactions a wallet call names, each with the call's outcome."""
    try:
        ids, outcome_of = DIALECTS[attempt.dialect]
    except KeyError:
        raise ValueError(f"the checker does not know the dialect {attempt.dialect!r}") from None
    outcome = outcome_of(attempt)
    return [((attempt.provider, tx), outcome, recorded) for tx, recorded in ids(attempt) if tx]
