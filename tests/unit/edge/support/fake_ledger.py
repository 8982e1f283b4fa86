"""A dict-backed fake of the edge's own `LedgerPort`, for unit tests without sockets.

It follows the contract in `contracts.wallet`: replays answer the original reply with
`replayed=True`; a conflicting repeat is `DUPLICATE_CONFLICT`; a rollback of an unknown
transaction is accepted with `absorbed=True` and leaves a tombstone that refuses or absorbs
the late original. Stakes leave the balance at once (no holds). The integration tests run
the same scenarios against the real ledger.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

import msgspec

from contracts.wallet import AnyWalletCommand
from contracts.wallet import Award
from contracts.wallet import AwardCause
from contracts.wallet import Balance
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Rollback
from contracts.wallet import WalletReply


class FakeRefused(Exception):
    def __init__(self, code: Refusal, message: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass
class _Bet:
    provider: str
    bet_id: str
    tx_id: str
    player: str
    currency: str
    round_id: str
    stake: Decimal
    state: str = "open"  # open | settled | rolled_back


@dataclass
class _Tx:
    command: AnyWalletCommand | None
    reply: WalletReply | None
    tombstone: str = ""  # late_original of a rollback that came first
    rolled_back: bool = False
    bets: list[str] = field(default_factory=list)
    paid_out_by: str = ""  # a free bet's win that stands


class FakeLedger:
    def __init__(self) -> None:
        self.wallets: dict[tuple[str, str], Decimal] = {}
        self.txs: dict[tuple[str, str], _Tx] = {}
        self.bets: dict[tuple[str, str], _Bet] = {}
        self.closed_rounds: set[tuple[str, str]] = set()
        self.commands: list[AnyWalletCommand] = []
        self._refs = itertools.count(1)

    def fund(self, player: str, currency: str, amount: str | Decimal) -> None:
        key = (player, currency)
        self.wallets[key] = self.wallets.get(key, Decimal(0)) + Decimal(amount)

    def open_wallet(self, player: str, currency: str) -> None:
        self.wallets.setdefault((player, currency), Decimal(0))

    def deposit(self, player: str, currency: str, amount: Decimal, *, tx_id: str) -> Balance:
        """The platform's cashier, as `services.simulate.bank.LedgerBank` calls it."""
        self.fund(player, currency, amount)
        return self.balance(player, currency)

    def snapshot(self) -> tuple[object, ...]:
        return (
            dict(self.wallets),
            {k: (v.reply, v.tombstone, v.rolled_back) for k, v in self.txs.items()},
            {k: v.state for k, v in self.bets.items()},
            set(self.closed_rounds),
        )

    def balance(self, player: str, currency: str) -> Balance:
        if (player, currency) not in self.wallets:
            raise FakeRefused(Refusal.UNKNOWN_WALLET, f"no wallet {player} {currency}")
        cash = self.wallets[player, currency]
        return Balance(
            player=player, currency=currency, balance=cash, held=Decimal(0), available=cash
        )

    def answered(self, provider: str, tx_id: str) -> bool:
        known = self.txs.get((provider, tx_id))
        return known is not None and known.reply is not None

    def execute(self, command: AnyWalletCommand) -> WalletReply:
        key = (command.provider, command.tx_id)
        known = self.txs.get(key)
        if known is not None and known.reply is not None:
            if not _same_payload(known.command, command):
                raise FakeRefused(Refusal.DUPLICATE_CONFLICT, command.tx_id)
            return _replace(known.reply, replayed=True)
        if (command.player, command.currency) not in self.wallets:
            if any(p == command.player for p, _ in self.wallets):
                raise FakeRefused(Refusal.CURRENCY_MISMATCH, command.currency)
            raise FakeRefused(Refusal.UNKNOWN_WALLET, command.player)
        if not isinstance(command, Award) and command.amount is not None and command.amount < 0:
            raise FakeRefused(Refusal.INVALID_AMOUNT)
        if known is not None and known.tombstone:
            if known.tombstone == "refuse":
                raise FakeRefused(Refusal.TRANSACTION_ROLLED_BACK, command.tx_id)
            reply = self._reply(command, absorbed=True)
            known.command, known.reply = command, reply
            return reply
        match command:
            case Debit():
                reply = self._debit(command)
            case Credit():
                reply = self._credit(command)
            case Rollback():
                reply = self._rollback(command)
            case Award():
                reply = self._award(command)
        self.commands.append(command)
        return reply

    def _reply(self, command: AnyWalletCommand, *, absorbed: bool = False) -> WalletReply:
        cash = self.wallets[command.player, command.currency]
        kinds = {Debit: "debit", Credit: "credit", Rollback: "rollback", Award: "award"}
        kind = kinds[type(command)]
        return WalletReply(
            tx_ref=f"trn_{next(self._refs)}",
            player=command.player,
            currency=command.currency,
            balance=cash,
            available=cash,
            absorbed=absorbed,
            kind=kind,
        )

    def _debit(self, command: Debit) -> WalletReply:
        if (command.provider, command.round_id) in self.closed_rounds:
            raise FakeRefused(Refusal.ROUND_CLOSED, command.round_id)
        bet_id = command.bet_id or command.tx_id
        if (command.provider, bet_id) in self.bets:
            raise FakeRefused(Refusal.DUPLICATE_CONFLICT, f"bet {bet_id} exists")
        wallet = (command.player, command.currency)
        if self.wallets[wallet] < command.amount:
            raise FakeRefused(Refusal.INSUFFICIENT_FUNDS)
        self.wallets[wallet] -= command.amount
        self.bets[command.provider, bet_id] = _Bet(
            command.provider,
            bet_id,
            command.tx_id,
            command.player,
            command.currency,
            command.round_id,
            command.amount,
        )
        if command.closes_round:
            self.closed_rounds.add((command.provider, command.round_id))
        reply = self._reply(command)
        self.txs[command.provider, command.tx_id] = _Tx(command, reply, bets=[bet_id])
        return reply

    def _credit(self, command: Credit) -> WalletReply:
        if command.bet_id:
            bet = self.bets.get((command.provider, command.bet_id))
            if bet is None or bet.player != command.player:
                raise FakeRefused(Refusal.BET_NOT_FOUND, command.bet_id)
            if bet.state == "rolled_back":
                raise FakeRefused(Refusal.BET_REFUNDED, f"bet {command.bet_id} refunded")
            if bet.state == "settled":
                raise FakeRefused(Refusal.BET_ALREADY_SETTLED, command.bet_id)
            bets = [bet]
        else:
            bets = [
                b
                for b in self.bets.values()
                if b.provider == command.provider
                and b.round_id == command.round_id
                and b.player == command.player
                and b.state == "open"
            ]
            if not bets:
                raise FakeRefused(Refusal.BET_NOT_FOUND, command.round_id)
        for bet in bets:
            bet.state = "settled"
        self.wallets[command.player, command.currency] += command.amount
        if command.closes_round:
            self.closed_rounds.add((command.provider, command.round_id))
        reply = self._reply(command)
        self.txs[command.provider, command.tx_id] = _Tx(
            command, reply, bets=[b.bet_id for b in bets]
        )
        return reply

    def _award(self, command: Award) -> WalletReply:
        if command.amount < 0 and command.cause is not AwardCause.ADJUSTMENT:
            raise FakeRefused(Refusal.INVALID_AMOUNT)
        if command.ref_tx_id:
            named = self.txs.get((command.provider, command.ref_tx_id))
            if named is None or not isinstance(named.command, Award):
                raise FakeRefused(Refusal.BET_NOT_FOUND, command.ref_tx_id)
            if named.rolled_back:
                raise FakeRefused(Refusal.TRANSACTION_ROLLED_BACK, command.ref_tx_id)
            paying = self.txs.get((command.provider, named.paid_out_by))
            if paying is not None and not paying.rolled_back:
                raise FakeRefused(Refusal.BET_ALREADY_SETTLED, named.paid_out_by)
            named.paid_out_by = command.tx_id  # an award's amount is >= 0: it cannot fail now
        wallet = (command.player, command.currency)
        if self.wallets[wallet] + command.amount < 0:
            raise FakeRefused(Refusal.INSUFFICIENT_FUNDS)
        self.wallets[wallet] += command.amount
        reply = self._reply(command)
        self.txs[command.provider, command.tx_id] = _Tx(command, reply)
        return reply

    def _rollback(self, command: Rollback) -> WalletReply:
        target = self.txs.get((command.provider, command.ref_tx_id))
        if target is None or target.command is None:
            self.txs[command.provider, command.ref_tx_id] = _Tx(
                None, None, tombstone=command.late_original
            )
            reply = self._reply(command, absorbed=True)
            self.txs[command.provider, command.tx_id] = _Tx(command, reply)
            return reply
        original = target.command
        if target.rolled_back:
            reply = self._reply(command, absorbed=True)
            self.txs[command.provider, command.tx_id] = _Tx(command, reply)
            return reply
        match original:
            case Debit():
                bet = self.bets[original.provider, original.bet_id or original.tx_id]
                if bet.state != "open" and command.only_open:
                    raise FakeRefused(Refusal.BET_ALREADY_SETTLED, bet.bet_id)
                if bet.state == "settled":
                    raise FakeRefused(Refusal.BET_ALREADY_SETTLED, "fake: no reversals")
                bet.state = "rolled_back"
                self.wallets[original.player, original.currency] += original.amount
            case Credit() | Award():
                # A payment is taken back; a credit's bets are open again.
                if command.only_open:
                    raise FakeRefused(Refusal.BET_ALREADY_SETTLED, original.tx_id)
                wallet = (original.player, original.currency)
                if self.wallets[wallet] < original.amount:
                    raise FakeRefused(Refusal.INSUFFICIENT_FUNDS)
                self.wallets[wallet] -= original.amount
                for bet_id in target.bets:
                    self.bets[original.provider, bet_id].state = "open"
            case Rollback():
                raise FakeRefused(Refusal.TRANSACTION_NOT_FOUND, "cannot roll back a rollback")
        target.rolled_back = True
        reply = self._reply(command)
        self.txs[command.provider, command.tx_id] = _Tx(command, reply)
        return reply


def _same_payload(first: AnyWalletCommand | None, repeat: AnyWalletCommand) -> bool:
    """Whether `repeat` carries `first`'s payload. The session is not part of it (as in the
    ledger's fingerprint, `services.ledger.replies.identity`): a provider's retry carries
    the token it was sent with, which the store may have revoked or rotated since."""
    if first is None or type(first) is not type(repeat):
        return False
    return msgspec.structs.replace(first, session_id="") == msgspec.structs.replace(
        repeat, session_id=""
    )


def _replace(reply: WalletReply, **changes: object) -> WalletReply:
    return msgspec.structs.replace(reply, **changes)
