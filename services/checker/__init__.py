"""The judge of a run: a history of what was offered and answered, held against the log.

`services/checker` shares no code with the ledger (nor with the edge or the event store):
it has its own small model of wallets, bets, rounds and provider transactions, built by
folding the ledger stream's raw JetStream messages (`log.py`), its own reading of the five
wallet dialects' requests and answers (`dialects.py`), and the history the simulator wrote
while it played (`history.py`, JSON lines). `verdict.judge` classifies every operation
(acknowledged ones present exactly once, refused ones absent, indefinite ones present at
most once) and checks the invariants I1-I7 of the design (`model.py`).

A checker that cannot fail is worthless: `tests/unit/checker/` plants defects in a log (a
duplicated debit, a lost acknowledged operation, an overdraft, ...) and expects each to be
reported.
"""
