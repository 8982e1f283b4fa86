"""The pilot's bar: at most 0.5% of rounds failing a check passes, anything above fails."""

from __future__ import annotations

from typing import Any

from projections.pilot import render
from projections.pilot import score


def row(n: int, *, flags: tuple[str, ...] = (), flagged_bets: int = 0, hashed: bool = True) -> Any:
    return {
        "round_id": f"R-{n}",
        "table_id": "T1",
        "round_hash": "ab" * 32 if hashed else "",
        "verification_flags": list(flags),
        "flagged_bets": flagged_bets,
    }


def rounds(bad: int, total: int = 1000) -> list[Any]:
    kinds: list[dict[str, Any]] = [
        {"flags": ("round_hash aa differs from the bridge digest bb",)},
        {"flags": ("gap in provider seq: missing 2",)},
        {"flagged_bets": 1},
        {"flags": ("seq 3 repeated with a different payload",)},
    ]
    return [row(n, **(kinds[n % 4] if n < bad else {})) for n in range(total)]


def test_five_in_a_thousand_passes_and_six_fail() -> None:
    passing = score("evo", 1000, rounds(5))
    assert (passing.mismatched_rounds, passing.mismatch_rate, passing.passed) == (5, 0.005, True)
    failing = score("evo", 1000, rounds(6))
    assert (failing.mismatched_rounds, failing.passed) == (6, False)
    assert (failing.hash_mismatched, failing.sequence_breaks, failing.ledger_differences) == (
        2,
        3,
        1,
    )


def test_unhashed_rounds_are_counted_not_failed_and_no_rounds_never_pass() -> None:
    card = score("evo", 10, [row(n, hashed=False) for n in range(10)])
    assert (card.unhashed, card.hash_verified, card.passed) == (10, 0, True)
    empty = score("evo", 10, [])
    assert (empty.mismatch_rate, empty.passed) == (None, False)
    assert "  verdict              FAIL" in render(empty)
