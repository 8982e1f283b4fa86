"""`livebridge pilot --provider ID --rounds 1000`: a provider's pilot scorecard.

Reads the provider's last `--rounds` finished rounds (a result or a void) from the round
view, which the bridge builds from the log, and cross-verifies each three ways:

- hash: the provider's `round_hash` against the bridge's digest of the round's events
  (a round without one is counted as unhashed, not as a mismatch);
- sequence: the provider's `seq` without a gap, and no `seq` repeated with another payload;
- ledger: every bet of the round settled (credit, refund) as its result pays, i.e. no bet
  the round book flagged.

Prints the scorecard (text, or `--json`) and exits 0 when the share of rounds failing any
check is at most 0.5% (seed A's pilot bar), 1 above it, 2 when it could not read the
rounds or found none. Play the rounds first (`livebridge simulate`, or the provider's
own pilot traffic) against the running bridge; the command finds it like `replay` does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from functools import partial
from typing import Any
from typing import TextIO

import msgspec

from contracts.ops import PILOT_THRESHOLD
from contracts.ops import PilotRound
from contracts.ops import Scorecard
from projections.commands import _settings

EXIT_FAILED = 1
EXIT_UNREAD = 2
SHOWN = 20
"""Mismatched rounds listed on the scorecard (the count covers them all)."""


def _problems(row: Mapping[str, Any]) -> tuple[str, ...]:
    flags: Sequence[str] = row["verification_flags"] or ()
    found = []
    if any(f.startswith("round_hash") for f in flags):
        found.append("hash")
    if any(f.startswith(("gap in provider seq", "seq ")) for f in flags):
        found.append("sequence")
    if row["flagged_bets"]:
        found.append("ledger")
    return tuple(found)


def score(
    provider: str,
    asked: int,
    rows: Sequence[Mapping[str, Any]],
    threshold: float = PILOT_THRESHOLD,
) -> Scorecard:
    """The scorecard of `rows` (`PostgresRoundsView.pilot_rounds`); pure."""
    checked = [(row, _problems(row)) for row in rows]
    failing = [
        PilotRound(round_id=row["round_id"], table=row["table_id"], problems=problems)
        for row, problems in checked
        if problems
    ]
    rate = len(failing) / len(rows) if rows else None
    return Scorecard(
        provider=provider,
        rounds_asked=asked,
        rounds_read=len(rows),
        hash_verified=sum(1 for row in rows if row["round_hash"]),
        hash_mismatched=sum(1 for _, p in checked if "hash" in p),
        unhashed=sum(1 for row in rows if not row["round_hash"]),
        sequence_breaks=sum(1 for _, p in checked if "sequence" in p),
        ledger_differences=sum(1 for _, p in checked if "ledger" in p),
        mismatched_rounds=len(failing),
        mismatch_rate=rate,
        threshold=threshold,
        passed=rate is not None and rate <= threshold,
        mismatches=tuple(failing[:SHOWN]),
    )


def render(card: Scorecard) -> list[str]:
    rate = "n/a" if card.mismatch_rate is None else f"{card.mismatch_rate:.2%}"
    lines = [
        f"pilot scorecard: provider {card.provider}",
        f"  rounds read          {card.rounds_read} of {card.rounds_asked} asked",
        f"  hash verified        {card.hash_verified} (unhashed {card.unhashed})",
        f"  hash mismatches      {card.hash_mismatched}",
        f"  sequence breaks      {card.sequence_breaks}",
        f"  ledger differences   {card.ledger_differences}",
        f"  mismatched rounds    {card.mismatched_rounds}",
        f"  mismatch rate        {rate} (bar {card.threshold:.1%})",
        f"  verdict              {'PASS' if card.passed else 'FAIL'}",
    ]
    lines += [f"    {m.round_id} ({m.table}): {', '.join(m.problems)}" for m in card.mismatches]
    return lines


def pilot(args: argparse.Namespace, env: Mapping[str, str], out: TextIO | None = None) -> int:
    from projections.rebuild import open_view
    from projections.rounds.postgres import PostgresRoundsView
    from projections.rounds.projection import RoundsProjection

    if args.rounds < 1:
        print("livebridge pilot: --rounds must be 1 or more", file=sys.stderr)
        return EXIT_UNREAD
    configured = _settings(env, "pilot", log=False)
    if configured is None:
        return EXIT_UNREAD
    view = open_view(RoundsProjection, PostgresRoundsView, configured)
    try:
        assert isinstance(view, PostgresRoundsView)
        rows = view.pilot_rounds(args.provider, args.rounds)
    finally:
        view.close()
    card = score(args.provider, args.rounds, rows)
    out = out or sys.stdout
    if args.json:
        out.write(msgspec.json.encode(card).decode() + "\n")
    else:
        out.write("\n".join(render(card)) + "\n")
    if not rows:
        print(f"livebridge pilot: no finished round of {args.provider!r}", file=sys.stderr)
        return EXIT_UNREAD
    return 0 if card.passed else EXIT_FAILED


def arguments(
    cmd: argparse.ArgumentParser, env: Mapping[str, str]
) -> Callable[[argparse.Namespace], int]:
    """`livebridge pilot`'s arguments; it reads `env`."""
    cmd.add_argument("--provider", required=True, help="the provider id, as in the ledger")
    cmd.add_argument(
        "--rounds",
        type=_rounds,
        default=1000,
        help=f"rounds to read (default 1000, 1 to {MAX_ROUNDS:,})",
    )
    cmd.add_argument("--json", action="store_true", help="the scorecard as JSON")
    return partial(pilot, env=env)


MAX_ROUNDS = 1_000_000
"""The most rounds one scorecard reads (they are held in memory while it is drawn)."""


def _rounds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_ROUNDS:
        raise argparse.ArgumentTypeError(f"{text} is not between 1 and {MAX_ROUNDS:,}")
    return value
