"""Tampering with a rounds view behind its projection's back, as a lost write would."""

from __future__ import annotations

import psycopg


def forget_round(database_url: str, schema: str, round_key: str) -> None:
    """Delete the round `round_key` from the rounds view in `schema`: its row, its bets and
    every timeline entry of either, as if the view had never heard of it."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            f'DELETE FROM "{schema}".rounds_timeline WHERE round_key = %s OR bet_key IN '
            f'(SELECT bet_key FROM "{schema}".rounds_bets WHERE round_key = %s)',
            (round_key, round_key),
        )
        conn.execute(f'DELETE FROM "{schema}".rounds_bets WHERE round_key = %s', (round_key,))
        conn.execute(f'DELETE FROM "{schema}".rounds_rounds WHERE round_key = %s', (round_key,))
