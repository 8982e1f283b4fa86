"""The provider wallet commands: debit, credit, rollback and award, each applied once (I3).

Each handler reads the aggregates its command needs, applies the domain, and returns the
reply of ONE atomic save (`LedgerBase._saved`); `Ledger.execute` runs it in the wallet's
turn and retries it on fresh state after a lost race. A handler refuses with
`LedgerRefused` before its first event, so a refusal writes nothing. A repeated
transaction id is answered from its record (`_repeat`), never applied again.

A debit never writes to its round; the round book decides late bets (I5). A credit first
makes sure the round book booked its bets on time (`_ensure_booked`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from collections.abc import Mapping
from decimal import Decimal
from types import EllipsisType
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from contracts import money
from contracts.wallet import AnyWalletCommand
from contracts.wallet import Award
from contracts.wallet import AwardCause
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Rollback
from contracts.wallet import WalletReply
from services.ledger.base import LedgerBase
from services.ledger.book import RoundBookFollower
from services.ledger.domain import HOUSE
from services.ledger.domain import PROMO
from services.ledger.domain import Bet
from services.ledger.domain import TxRecord
from services.ledger.domain import Wallet
from services.ledger.domain import bet_uuid
from services.ledger.domain import round_uuid
from services.ledger.domain import tx_record_id
from services.ledger.domain import wallet_id
from services.ledger.errors import LedgerRefused
from services.ledger.known_rounds import RoundNote
from services.ledger.replies import identity
from services.ledger.replies import record_ref
from services.ledger.replies import reply_fields
from services.ledger.replies import same_payload
from services.ledger.rounds import Round
from services.ledger.settlement import expected_of
from services.ledger.settlement import refund_bet
from services.ledger.settlement import reopen_bet
from services.ledger.settlement import settle_bet
from services.ledger.settlement import share_credit
from services.ledger.views import BetStatus


class WalletCommands(LedgerBase):
    """The handlers of `AnyWalletCommand`, one per command type: `handler(cmd, attempt)`."""

    round_book: RoundBookFollower
    """The round book this process follows (set by `Ledger`): a credit waits for it."""

    def _debit(
        self, cmd: Debit, attempt: int, *, peeked: Round | RoundNote | EllipsisType | None = ...
    ) -> WalletReply:
        if attempt == 0:
            # Optimistic first attempt: it does not read the transaction record or the bet
            # (nor its round: `peeked`, as known or read before its turn). A repeat or a
            # tombstone then makes the save conflict, or the domain refuse; the careful
            # attempt reads them, so a repeat is replayed, never refused anew.
            with contextlib.suppress(LedgerRefused):
                return self._place_bet(cmd, careful=False, peeked=peeked)
        return self._place_bet(cmd, careful=True)

    def _place_bet(
        self, cmd: Debit, *, careful: bool, peeked: Round | RoundNote | EllipsisType | None = ...
    ) -> WalletReply:
        amount = checked_amount(cmd.amount, cmd.currency, positive=True)
        _, fingerprint = identity(cmd)
        if careful:
            earlier = self.find(TxRecord, tx_record_id(cmd.provider, cmd.tx_id))
            if earlier is not None:
                return self._repeat(earlier, cmd, "debit", fingerprint)
        _checked_parts(cmd, amount)
        round_ = self._peek_round(cmd.provider, cmd.round_id) if peeked is ... else peeked
        if round_ is not None and round_.betting_closed:
            raise LedgerRefused(
                Refusal.BETTING_CLOSED,
                f"round {cmd.provider}/{cmd.round_id} closed betting; bet {cmd.tx_id} "
                f"of player {cmd.player!r} is refused",
            )
        bet_id = cmd.bet_id or cmd.tx_id
        if careful and self.find(Bet, bet_uuid(cmd.provider, bet_id)) is not None:
            raise LedgerRefused(
                Refusal.DUPLICATE_CONFLICT,
                f"bet {cmd.provider}/{bet_id} exists already; transaction {cmd.tx_id} "
                "cannot place it again",
            )
        # The optimistic attempt takes the wallet as this process last saw it, without a read:
        # a write since by another process makes the save conflict, and a refusal is decided
        # again by the careful attempt, on a fresh read.
        wallet = self._wallet(cmd.player, cmd.currency, trusted=not careful)
        if self.policy is not None:
            # A debit naming no table is at its round's (the provider's feed said which).
            at = (
                cmd if cmd.table or not round_ else msgspec.structs.replace(cmd, table=round_.table)
            )
            self.policy.check_bet(at, wallet, round_uuid(cmd.provider, cmd.round_id).hex, amount)
        bet = Bet(
            provider=cmd.provider,
            bet_id=bet_id,
            tx_id=cmd.tx_id,
            player=cmd.player,
            currency=cmd.currency,
            stake=amount,
            round_id=cmd.round_id,
            game=cmd.game or (round_.game if round_ else ""),
            table=cmd.table or (round_.table if round_ else ""),
            selections=[_selection(s.market, s.value, s.amount) for s in cmd.selections],
            session_id=cmd.session_id,
        )
        wallet.hold(bet.key, amount, bet.round_key)
        record = _record(cmd, "debit", fingerprint, wallet, [bet.key])
        closing = self._closing(cmd, round_ if isinstance(round_, Round) else None)
        return self._saved(record, wallet, bet, record, *closing)

    def _credit(self, cmd: Credit, attempt: int) -> WalletReply:
        amount = checked_amount(cmd.amount, cmd.currency)
        _, fingerprint = identity(cmd)
        earlier = self.find(TxRecord, tx_record_id(cmd.provider, cmd.tx_id))
        if earlier is not None:
            return self._repeat(earlier, cmd, "credit", fingerprint)
        wallet = self._wallet(cmd.player, cmd.currency)
        if _only_closes(cmd, wallet):
            return self._close_only(cmd, fingerprint, wallet)
        bets = self._bets_to_credit(cmd, wallet)
        rounds = {(b.provider, b.round_id): self._peek_round(b.provider, b.round_id) for b in bets}
        self._ensure_booked(bets, rounds)
        expected = [expected_of(bet, rounds[bet.provider, bet.round_id]) for bet in bets]
        payouts, flagged = share_credit(amount, bets, expected, cmd.currency)
        for bet, payout, own in zip(bets, payouts, expected, strict=True):
            settle_bet(wallet, bet, payout, own, cmd.tx_id, flagged=flagged)
        record = _record(
            cmd,
            "credit",
            fingerprint,
            wallet,
            [bet.key for bet in bets],
            fallback_session=_session_of(bets),
        )
        closing = self._closing(cmd, rounds.get((cmd.provider, cmd.round_id)))
        return self._saved(record, wallet, *bets, record, *closing)

    def _close_only(self, cmd: Credit, fingerprint: str, wallet: Wallet) -> WalletReply:
        """A round-closing zero credit that finds nothing open (Pragmatic `endRound` after
        every result): recorded once by its transaction id, and the round closes."""
        record = _record(cmd, "credit", fingerprint, wallet, [])
        return self._saved(record, record, *self._closing(cmd, None))

    def _award(self, cmd: Award, attempt: int) -> WalletReply:
        """A promotion, jackpot or adjustment: one wallet event from (or to) its account,
        recorded once by the provider's transaction id (I3), in one atomic save."""
        amount = _signed_amount(cmd)
        _, fingerprint = identity(cmd)
        earlier = self.find(TxRecord, tx_record_id(cmd.provider, cmd.tx_id))
        if earlier is not None:
            return self._repeat(earlier, cmd, "award", fingerprint)
        named = self._require_award(cmd) if cmd.ref_tx_id else None
        wallet = self._wallet(cmd.player, cmd.currency)
        ref = record_ref(cmd.provider, cmd.tx_id)
        account = award_account(cmd.cause)
        changed: list[Aggregate] = []
        if amount:
            wallet.award(
                ref,
                amount,
                cause=cmd.cause.value,
                account=account,
                provider=cmd.provider,
                tx_id=cmd.tx_id,
                round_id=cmd.round_id,
            )
            changed.append(wallet)
        record = _record(
            cmd,
            "award",
            fingerprint,
            wallet,
            [],
            fallback_session=named.session_id if named is not None else "",
        )
        record.note_award(amount, cmd.cause.value, account, cmd.round_id)
        if named is not None:
            named.mark_paid_out(cmd.tx_id)
            changed.append(named)
        return self._saved(record, *changed, record, *self._closing(cmd, None))

    def _require_award(self, cmd: Award) -> TxRecord:
        """The award `cmd` pays out (a free bet): it must be known, an award, standing, and
        not paid out by another win that stands (a win rolled back frees it again)."""
        named = self.find(TxRecord, tx_record_id(cmd.provider, cmd.ref_tx_id))
        if named is None or named.reply is None or named.kind != "award":
            raise LedgerRefused(
                Refusal.BET_NOT_FOUND,
                f"award {cmd.provider}/{cmd.tx_id} pays out {cmd.ref_tx_id}, which the ledger "
                "never took as an award",
            )
        if named.reply["currency"] != cmd.currency:
            raise LedgerRefused(
                Refusal.CURRENCY_MISMATCH,
                f"award {cmd.provider}/{cmd.tx_id} is in {cmd.currency}; {cmd.ref_tx_id} was in "
                f"{named.reply['currency']}",
            )
        if named.rolled_back_by or named.reply["player"] != cmd.player:
            rolled_back = bool(named.rolled_back_by)
            raise LedgerRefused(
                Refusal.TRANSACTION_ROLLED_BACK if rolled_back else Refusal.BET_NOT_FOUND,
                f"award {cmd.provider}/{cmd.tx_id} pays out {cmd.ref_tx_id}, which was rolled "
                "back or is another player's",
            )
        paying = named.paid_out_by and self.find(
            TxRecord, tx_record_id(cmd.provider, named.paid_out_by)
        )
        if paying and not paying.rolled_back_by:
            raise LedgerRefused(
                Refusal.BET_ALREADY_SETTLED,
                f"award {cmd.provider}/{cmd.tx_id} pays out {cmd.ref_tx_id}, which "
                f"{named.paid_out_by} paid out already",
            )
        return named

    def _closing(self, cmd: AnyWalletCommand, peeked: Round | None) -> list[Round]:
        """The round `cmd` closes (`closes_round`), if it is not closed yet: saved after the
        command's bet events, so the round book orders every later bet after the close
        (I5) and the round reads CLOSED. `peeked` is the round as the command read it."""
        if not cmd.closes_round or not cmd.round_id:
            return []
        round_ = peeked or self._peek_round(cmd.provider, cmd.round_id)
        if round_ is None:
            round_ = Round(provider=cmd.provider, round_id=cmd.round_id)
        return [round_] if round_.close_by_transaction(cmd.tx_id) else []

    def _bets_to_credit(self, cmd: Credit, wallet: Wallet) -> list[Bet]:
        if cmd.bet_id:
            bet = self.find(Bet, bet_uuid(cmd.provider, cmd.bet_id))
            if bet is None:
                raise LedgerRefused(
                    Refusal.BET_NOT_FOUND,
                    f"credit {cmd.tx_id} names bet {cmd.provider}/{cmd.bet_id}, which the "
                    "ledger never took",
                )
            bets = [bet]
        else:
            round_key = round_uuid(cmd.provider, cmd.round_id).hex
            keys = [k for k, r in wallet.hold_rounds.items() if r == round_key]
            bets = [self.bet(UUID(k)) for k in keys]
            if not bets:
                raise LedgerRefused(
                    Refusal.BET_NOT_FOUND,
                    f"credit {cmd.tx_id}: player {cmd.player!r} has no open bet in round "
                    f"{cmd.provider}/{cmd.round_id}",
                )
        for bet in bets:
            if bet.player != cmd.player:
                raise LedgerRefused(
                    Refusal.BET_NOT_FOUND,
                    f"bet {cmd.provider}/{bet.bet_id} belongs to another player than "
                    f"{cmd.player!r}",
                )
            if bet.currency != cmd.currency:
                raise LedgerRefused(
                    Refusal.CURRENCY_MISMATCH,
                    f"credit {cmd.tx_id} is in {cmd.currency}; bet {bet.bet_id} was in "
                    f"{bet.currency}",
                )
        return bets

    def _ensure_booked(
        self, bets: Iterable[Bet], rounds: Mapping[tuple[str, str], Round | None]
    ) -> None:
        """Before a bet is paid, make sure the log did not put it after betting closed (I5).

        Only a round known closed can hold a late bet; then the round book must have booked
        the bet on time (this process remembers those), else it catches up first, and a bet
        it refunds as late is refused here (BETTING_CLOSED).
        """
        for bet in bets:
            round_ = rounds[bet.provider, bet.round_id]
            if round_ is None or not round_.betting_closed or self.round_book.booked(bet.id):
                continue
            self.round_book.drain()
            fresh = self.bet(bet.id)
            fresh.require_open()  # refused if the round book refunded it as late
            if fresh.version != bet.version:
                # a concurrent write moved the bet: retry the command on fresh state
                raise IntegrityError(f"bet {bet.bet_id} changed while booking")

    def _rollback(self, cmd: Rollback, attempt: int) -> WalletReply:
        _, fingerprint = identity(cmd)
        ref = record_ref(cmd.provider, cmd.tx_id)
        earlier = self.find(TxRecord, tx_record_id(cmd.provider, cmd.tx_id))
        if earlier is not None:
            return self._repeat(earlier, cmd, "rollback", fingerprint)
        if cmd.amount is not None:
            checked_amount(cmd.amount, cmd.currency)
        if cmd.late_original not in ("refuse", "absorb"):
            raise LedgerRefused(
                Refusal.DUPLICATE_CONFLICT,
                f"rollback {cmd.tx_id}: late_original must be 'refuse' or 'absorb', "
                f"not {cmd.late_original!r}",
            )
        wallet = self.find(Wallet, wallet_id(cmd.player, cmd.currency))
        original = self.find(TxRecord, tx_record_id(cmd.provider, cmd.ref_tx_id))
        if original is None and cmd.ref_bet_id:
            original = self._debit_of_bet(cmd)
        changed: list[Aggregate] = []
        undone: list[Bet] = []
        reversed_award = False
        if original is None:
            # The rollback came first: remember it, so the late original is harmless.
            changed.append(
                TxRecord.tombstone(
                    cmd.provider, cmd.ref_tx_id, cmd.tx_id, cmd.late_original, cmd.session_id
                )
            )
        elif original.kind == "rollback":
            raise LedgerRefused(
                Refusal.TRANSACTION_NOT_FOUND,
                f"rollback {cmd.tx_id} names {cmd.ref_tx_id}, itself a rollback; "
                "a rollback cannot be rolled back",
            )
        elif original.reply is not None and not original.rolled_back_by:
            if original.reply["currency"] != cmd.currency:
                raise LedgerRefused(
                    Refusal.CURRENCY_MISMATCH,
                    f"rollback {cmd.tx_id} is in {cmd.currency}; transaction "
                    f"{cmd.ref_tx_id} was in {original.reply['currency']}",
                )
            if original.reply["player"] != cmd.player:
                raise LedgerRefused(
                    Refusal.TRANSACTION_NOT_FOUND,
                    f"transaction {cmd.ref_tx_id} is not player {cmd.player!r}'s",
                )
            wallet = self._wallet(cmd.player, cmd.currency)
            reversed_award = False
            if original.kind == "award":
                reversed_award = self._undo_award(cmd, original, wallet)
            elif not original.reply.get("absorbed"):
                undone = self._undo(cmd, original, wallet)
            original.mark_rolled_back(cmd.tx_id)
            changed += [wallet, *undone, original]
        reply = reply_fields(ref, wallet, "rollback", player=cmd.player, currency=cmd.currency)
        # Nothing to undo (its target unknown and now remembered, absorbed, already rolled
        # back or refunded): the provider may answer so (Evolution BET_DOES_NOT_EXIST).
        reply["absorbed"] = not undone and not (original is not None and reversed_award)
        record = _record(
            cmd,
            "rollback",
            fingerprint,
            None,
            [],
            reply=reply,
            fallback_session=original.session_id if original is not None else "",
        )
        closing = self._closing(cmd, None)
        return self._saved(record, *changed, record, *closing)

    def _debit_of_bet(self, cmd: Rollback) -> TxRecord | None:
        """The debit of the player's bet a rollback names (`ref_bet_id`) beside a
        transaction the ledger does not know. A cancel made this way undoes an open bet
        only (`only_open`): one refunded already is refused as such, not absorbed."""
        bet = self.find(Bet, bet_uuid(cmd.provider, cmd.ref_bet_id))
        if bet is None or bet.player != cmd.player:
            return None
        if cmd.only_open:
            _require_open_to_cancel(cmd, [bet])
        return self.find(TxRecord, tx_record_id(cmd.provider, bet.tx_id))

    def _undo_award(self, cmd: Rollback, original: TxRecord, wallet: Wallet) -> bool:
        """Reverse an award the rollback names (its money goes back to its account); False
        when it moved none. Refused, moving nothing, if the player spent it already."""
        if cmd.only_open:
            raise LedgerRefused(
                Refusal.BET_ALREADY_SETTLED,
                f"rollback {cmd.provider}/{cmd.tx_id} cancels only open bets; "
                f"{cmd.ref_tx_id} is an award, paid already; nothing moved",
            )
        award = original.award
        if not award or not award["amount"]:
            return False
        wallet.reverse_award(
            record_ref(cmd.provider, cmd.tx_id),
            award["amount"],
            cause=award["cause"],
            account=award["account"],
            provider=cmd.provider,
            tx_id=cmd.tx_id,
            round_id=award["round_id"],
            undone_tx_id=cmd.ref_tx_id,
        )
        return True

    def _undo(self, cmd: Rollback, original: TxRecord, wallet: Wallet) -> list[Bet]:
        """Undo what `original` did to its bets; the bets that changed."""
        bets = [self.bet(UUID(key)) for key in original.bets]
        if cmd.amount is not None and original.kind == "debit":
            _require_debit_amount(cmd, bets)
        if cmd.only_open:
            _require_open_to_cancel(cmd, bets)
        undone: list[Bet] = []
        for bet in bets:
            if original.kind == "credit":
                # A win rolled back undoes that credit only: the bet awaits another.
                if bet.status == BetStatus.SETTLED and bet.settled_by == original.tx_id:
                    reopen_bet(wallet, bet, cmd.cause, cmd.tx_id)
                    undone.append(bet)
            elif bet.status != BetStatus.REFUNDED:
                refund_bet(wallet, bet, cmd.cause, cmd.tx_id)
                undone.append(bet)
        return undone

    def _repeat(
        self, earlier: TxRecord, cmd: AnyWalletCommand, kind: str, fingerprint: str
    ) -> WalletReply:
        """A transaction id seen before: replay, refuse, or absorb the late original."""
        if earlier.reply is not None:
            if not same_payload(earlier.fingerprint, fingerprint, cmd):
                raise LedgerRefused(
                    Refusal.DUPLICATE_CONFLICT,
                    f"transaction {cmd.provider}/{cmd.tx_id} was a {earlier.kind} with another "
                    "payload; a repeat must carry the same one",
                )
            return WalletReply(**earlier.reply, replayed=True)
        if earlier.late_original == "absorb":
            wallet = self.find(Wallet, wallet_id(cmd.player, cmd.currency))
            ref = record_ref(cmd.provider, cmd.tx_id)
            reply = reply_fields(ref, wallet, kind, player=cmd.player, currency=cmd.currency)
            reply["absorbed"] = True
            earlier.absorb(kind, fingerprint, reply, cmd.session_id)
            return self._saved(earlier, earlier)
        raise LedgerRefused(
            Refusal.TRANSACTION_ROLLED_BACK,
            f"transaction {cmd.provider}/{cmd.tx_id} was rolled back by {earlier.tombstone_by} "
            "before it arrived; it is refused",
        )


def award_account(cause: AwardCause) -> str:
    """The counter-account of an award (I1): promotions from `promo`, the rest the house."""
    return PROMO if cause is AwardCause.PROMO else HOUSE


def _require_debit_amount(cmd: Rollback, bets: Iterable[Bet]) -> None:
    """A rollback that names an amount must name the debit's (Ezugi `rollbackAmount`: both
    public implementations refuse another); a partial or inflated refund moves nothing."""
    assert cmd.amount is not None
    stake = sum((bet.stake for bet in bets), Decimal(0))
    if money.check_amount(cmd.amount, cmd.currency) != stake:
        raise LedgerRefused(
            Refusal.INVALID_AMOUNT,
            f"rollback {cmd.provider}/{cmd.tx_id} returns {cmd.amount} {cmd.currency}, but "
            f"debit {cmd.ref_tx_id} took {stake} {cmd.currency}; nothing moved, send the "
            "rollback with the debit's amount",
        )


def _require_open_to_cancel(cmd: Rollback, bets: Iterable[Bet]) -> None:
    """`Rollback.only_open`: a cancel undoes an open bet only; a resolved one stays as it is."""
    for bet in bets:
        if bet.status != BetStatus.OPEN:
            raise LedgerRefused(
                bet.resolved_refusal,
                f"rollback {cmd.provider}/{cmd.tx_id} cancels only open bets; bet "
                f"{bet.provider}/{bet.bet_id} of transaction {cmd.ref_tx_id} is "
                f"{bet.status.lower()} already"
                + (f" ({bet.cause})" if bet.cause else "")
                + "; nothing moved, settle a dispute by a new transaction",
            )


def checked_amount(value: Decimal, currency: str, *, positive: bool = False) -> Decimal:
    try:
        return money.check_amount(value, currency, allow_zero=not positive)
    except money.UnknownCurrency as exc:
        raise LedgerRefused(Refusal.UNKNOWN_CURRENCY, str(exc)) from None
    except money.MoneyError as exc:
        raise LedgerRefused(Refusal.INVALID_AMOUNT, str(exc)) from None


def _session_of(bets: Iterable[Bet]) -> str:
    """The session the bets were placed in, when they share one: a credit or rollback that
    names no session (the provider sends none, or the edge cannot tell one from a token
    since rotated) belongs to its bet's (a platform session, over every token it issued)."""
    sessions = {bet.session_id for bet in bets}
    return sessions.pop() if len(sessions) == 1 else ""


def _signed_amount(cmd: Award) -> Decimal:
    """An award's amount: at least 0, except an adjustment, which may be negative."""
    if not cmd.amount.is_finite():
        return checked_amount(cmd.amount, cmd.currency)  # refused: not money
    if cmd.amount < 0 and cmd.cause is not AwardCause.ADJUSTMENT:
        raise LedgerRefused(
            Refusal.INVALID_AMOUNT,
            f"award {cmd.provider}/{cmd.tx_id}: a {cmd.cause.value.lower()} pays the player; "
            f"{cmd.amount} {cmd.currency} is negative",
        )
    if cmd.amount < 0:
        return -checked_amount(-cmd.amount, cmd.currency)
    return checked_amount(cmd.amount, cmd.currency)


def _checked_parts(cmd: Debit, stake: Decimal) -> None:
    """Refuse a debit whose selections split the stake in parts that are not each money
    above zero, or that do not add up to it: the round book pays each part at its ratio,
    so a negative part (1000 on 17 and -900 on red, 100 staked) would pay ten times a
    fair win. Parts are all given or none (then the stake splits evenly)."""
    parts = [s.amount for s in cmd.selections if s.amount is not None]
    if not parts:
        return
    what = f"bet {cmd.provider}/{cmd.bet_id or cmd.tx_id}"
    if len(parts) != len(cmd.selections):
        raise LedgerRefused(
            Refusal.INVALID_AMOUNT,
            f"{what}: {len(parts)} of its {len(cmd.selections)} selections name their part "
            "of the stake; all or none must",
        )
    for part in parts:
        try:
            money.check_amount(part, cmd.currency, allow_zero=False)
        except money.MoneyError as exc:
            raise LedgerRefused(Refusal.INVALID_AMOUNT, f"{what}: a selection's {exc}") from None
    if sum(parts, Decimal(0)) != stake:
        raise LedgerRefused(
            Refusal.INVALID_AMOUNT,
            f"{what}: its selections' parts add up to {sum(parts, Decimal(0))} {cmd.currency}, "
            f"not to the stake of {stake}",
        )


def _selection(market: str, value: str, amount: Decimal | None) -> dict[str, str]:
    pick = {"market": market, "value": value}
    if amount is not None:
        pick["amount"] = str(amount)
    return pick


def _only_closes(cmd: Credit, wallet: Wallet) -> bool:
    """`cmd` pays nothing, names no bet and closes a round where `wallet` holds no bet."""
    if not cmd.closes_round or cmd.amount or cmd.bet_id or not cmd.round_id:
        return False
    round_key = round_uuid(cmd.provider, cmd.round_id).hex
    return round_key not in wallet.hold_rounds.values()


def _record(
    cmd: AnyWalletCommand,
    kind: str,
    fingerprint: str,
    wallet: Wallet | None,
    bets: list[str],
    *,
    reply: dict[str, Any] | None = None,
    fallback_session: str = "",
) -> TxRecord:
    """The record of `cmd` (I3), answering `reply`, by default the wallet as it now stands;
    in the command's session, or in `fallback_session` when the command names none."""
    if reply is None:
        reply = reply_fields(record_ref(cmd.provider, cmd.tx_id), wallet, kind)
    return TxRecord.record(
        provider=cmd.provider,
        tx_id=cmd.tx_id,
        kind=kind,
        fingerprint=fingerprint,
        reply=reply,
        bets=bets,
        session_id=cmd.session_id or fallback_session,
    )
