"""The verdict on a run: every operation of the history classified against the log.

An operation is one provider transaction (all the attempts naming it: retries, repeats),
one game event (a feed push may carry several; a repeat is the same event), or one
cashier movement. Its outcome is the best its attempts got: acknowledged if any was,
else refused if any was, else indefinite. Then, against the model folded from the log:

- acknowledged: present exactly once (absent: **lost**, I6 durable before ack);
- refused: absent (a refused transaction that moved money is a violation);
- indefinite: present at most once;
- present more than once, of any outcome: **duplicated** (I3);

plus the model's own invariant checks (I1-I5) and, given the balances view's rows, I7:
every wallet of the view equal to the model's, and none missing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

from services.checker.dialects import INDEFINITE
from services.checker.dialects import OK
from services.checker.dialects import REFUSED
from services.checker.dialects import wallet_operations
from services.checker.history import Attempt
from services.checker.log import StoredEvent
from services.checker.model import Model
from services.checker.model import fold

CASHIER = "cashier"
"""The provider name the ledger keeps the platform cashier's transactions under."""

ViewRows = Mapping[tuple[str, str], tuple[Decimal, Decimal]]
"""(player, currency) -> (balance, held), as the balances view shows them."""


@dataclass
class Verdict:
    offered: int = 0
    acknowledged: int = 0
    refused: int = 0
    indefinite: int = 0
    indefinite_present: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    log_events: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.violations)

    def summary(self, *, examples: int = 20) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "acknowledged": self.acknowledged,
            "refused": self.refused,
            "indefinite": self.indefinite,
            "indefinite_present": self.indefinite_present,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "violations": len(self.violations),
            "offered_by_kind": self.by_kind,
            "log_events": self.log_events,
            "examples": (self.lost + self.duplicated + self.violations)[:examples],
        }


def _best(outcomes: Iterable[str]) -> str:
    seen = set(outcomes)
    for outcome in (OK, REFUSED):
        if outcome in seen:
            return outcome
    return INDEFINITE


def _plain_outcome(attempt: Attempt) -> str:
    if attempt.error or attempt.status is None or attempt.status >= 500:
        return INDEFINITE
    return OK if 200 <= attempt.status < 300 else REFUSED


def _cashier_tx(attempt: Attempt) -> str:
    """The cashier transaction an attempt names: the platform API keeps a movement under
    `<operator>:<idempotencyKey>` (the attempt's provider is the operator); a call made on
    the ledger directly names its `tx_id`."""
    body = json.loads(attempt.body)
    if "idempotencyKey" in body:
        return f"{attempt.provider}:{body['idempotencyKey']}"
    return str(body["tx_id"])


def operations(history: Iterable[Attempt]) -> dict[tuple[str, ...], tuple[str, bool]]:
    """Operation key -> (outcome, whether an acknowledgement means it is recorded)."""
    outcomes: dict[tuple[str, ...], list[str]] = defaultdict(list)
    recorded: dict[tuple[str, ...], bool] = {}
    key: tuple[str, ...]
    for attempt in history:
        if attempt.kind == "wallet":
            for (provider, tx), outcome, is_recorded in wallet_operations(attempt):
                key = ("tx", provider, tx)
                outcomes[key].append(outcome)
                recorded[key] = is_recorded
        elif attempt.kind == "cashier":
            tx = _cashier_tx(attempt)
            key = ("tx", CASHIER, tx)
            outcomes[key].append(_plain_outcome(attempt))
            recorded[key] = True
        elif attempt.kind == "feed":
            for event in json.loads(attempt.body).get("events", []):
                key = ("event", attempt.provider, str(event["round_id"]), str(event["seq"]))
                outcomes[key].append(_plain_outcome(attempt))
                recorded[key] = True
        else:
            raise ValueError(f"an attempt of unknown kind {attempt.kind!r}")
    return {key: (_best(found), recorded[key]) for key, found in outcomes.items()}


def judge(
    history: Iterable[Attempt], log: Iterable[StoredEvent], view: ViewRows | None = None
) -> Verdict:
    model = fold(log)
    verdict = Verdict(log_events=model.events)
    verdict.duplicated += model.duplicated
    verdict.violations += model.violations
    offered = operations(history)
    providers = set()
    for key, (outcome, recorded) in offered.items():
        verdict.offered += 1
        verdict.by_kind[key[0]] = verdict.by_kind.get(key[0], 0) + 1
        if key[0] == "tx":
            providers.add(key[1])
            present = model.present((key[1], key[2]))
            effective = model.effective((key[1], key[2]))
        else:
            present = effective = model.round_events(key[1], key[2], int(key[3]))
        name = "/".join(key[1:])
        if outcome == OK:
            verdict.acknowledged += 1
            if present == 0 and recorded:
                verdict.lost.append(f"{key[0]} {name}: acknowledged, not in the log (I6)")
        elif outcome == REFUSED:
            verdict.refused += 1
            if effective:
                verdict.violations.append(f"{key[0]} {name}: refused, yet in the log (I3)")
        else:
            verdict.indefinite += 1
            verdict.indefinite_present += present > 0
        if present > 1:
            verdict.duplicated.append(f"{key[0]} {name}: in the log {present} times (I3)")
    for (provider, tx), states in model.records.items():
        if provider in providers and "effective" in states and ("tx", provider, tx) not in offered:
            verdict.violations.append(f"tx {provider}/{tx}: in the log, never offered")
    if view is not None:
        verdict.violations += _view_differences(model, view)
    return verdict


def _view_differences(model: Model, view: ViewRows) -> list[str]:
    """I7: the balances view against the model folded from the log."""
    found: list[str] = []
    wallets = {(w.player, w.currency): w for w in model.wallets.values()}
    for key, wallet in sorted(wallets.items()):
        row = view.get(key)
        if row is None:
            found.append(f"wallet {key[0]}/{key[1]}: in the log, not in the balances view (I7)")
        elif row != (wallet.balance, wallet.held):
            found.append(
                f"wallet {key[0]}/{key[1]}: view says balance {row[0]} held {row[1]}, the log "
                f"{wallet.balance} held {wallet.held} (I7)"
            )
    found += [
        f"wallet {p}/{c}: in the balances view, not in the log (I7)"
        for p, c in sorted(set(view) - set(wallets))
    ]
    return found
