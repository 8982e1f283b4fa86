"""What the ledger raises to its callers.

Every refusal carries a stable `contracts.wallet.Refusal` code (dialect adapters map it to
their own status) and a human message naming the ids involved and what to do. A refused
command changed nothing: no event was written.

Errors::

    Exception
    └── LedgerError                  base of everything the ledger raises on purpose
        └── LedgerRefused            .code: Refusal; the command was refused, nothing moved

Concurrency conflicts (`eventsourcing.persistence.IntegrityError`) never reach a caller:
the command is retried on fresh state, and only an exhausted budget surfaces, as
`LedgerRefused(Refusal.RETRY_EXHAUSTED)`.
"""

from __future__ import annotations

from contracts.wallet import Refusal


class LedgerError(Exception):
    """Base of the ledger's own errors."""


class LedgerRefused(LedgerError):
    """The ledger refused a command; nothing was written.

    `code` is the stable reason; `str(error)` says what was wrong, with the ids involved.
    """

    def __init__(self, code: Refusal, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[LedgerRefused], tuple[Refusal, str]]:
        return (type(self), (self.code, self.message))
