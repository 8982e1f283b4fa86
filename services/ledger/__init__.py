"""The money core: wallets, bets, rounds, settlement and voids on an event-sourced ledger.

- `application.py`: `Ledger`, the public seam (`execute`, `balance`, `deposit`, `withdraw`,
  `open_wallet`, `record_event`, `round_state`, `follow_round_book`).
- `commands.py`: the provider wallet commands; `base.py`: saving, finding, retrying.
- `settlement.py`: settle, refund, reopen; `replies.py`: replies and repeat fingerprints.
- `round_state.py`: `RoundState` from a round's aggregates (shared with the replay).
- `domain.py`: `Wallet`, `Bet`, `TxRecord` and their events; account names and ids.
- `rounds.py`: `Round` (provider events, verification), `RoundBook`, `BookCursor`.
- `book.py`: the round-book follower (late bets, voids, bridge settlement).
- `payouts.py`: payout rules; `views.py`: `RoundState`; `errors.py`: `LedgerRefused`.
"""
