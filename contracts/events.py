"""Canonical provider game events: what every feed (push, pull or socket) is normalised into.

A provider tells the bridge how a round goes: betting opens, betting closes, the game runs
(cards dealt, ball landed, dice rolled), a result is declared with the provider's
`round_hash`, or the round is voided. Each event carries the provider's own sequence number
`seq`, strictly increasing per round from 1; duplicates are absorbed and gaps reported by
those numbers.

Ids and names follow `contracts.ids` (at most 128 characters, no control or invisible
characters), so every event a feed accepts can be stored and keyed. Times (`occurred_at`,
`closes_at`) carry a zone (`Z` or an offset) and lie from 1970 to before 9000; a feed
refuses any other (`services.edge.feeds.processor.TIMES`).

`round_hash` is checked by the bridge (invariant I8): see `round_digest` for the canonical
form the hash is computed over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

import msgspec

from contracts.ids import Id
from contracts.ids import OptionalId
from contracts.ids import Text


class BettingOpened(msgspec.Struct, frozen=True, kw_only=True, tag="round.betting_opened"):
    """Bets are taken for this round until `closes_at` (the provider's server time)."""

    provider: Id
    round_id: Id
    table: OptionalId
    game: OptionalId
    """`roulette`, `baccarat`, `blackjack`, `dragon_tiger`, or the provider's own name."""
    seq: int
    occurred_at: datetime
    closes_at: datetime
    video_timecode: OptionalId = ""


class _RoundEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What every event of a round after `BettingOpened` starts with: the provider's round,
    the event's number in it (`seq`) and when it happened (`BettingOpened` names its table
    and game between them)."""

    provider: Id
    round_id: Id
    seq: int
    occurred_at: datetime


class BettingClosed(_RoundEvent, frozen=True, kw_only=True, tag="round.betting_closed"):
    """No more bets. A bet the ledger's log orders after this event never stands (I5)."""

    video_timecode: OptionalId = ""


class GameEvent(_RoundEvent, frozen=True, kw_only=True, tag="round.game_event"):
    """Something happened on the table: `kind` is `card_dealt`, `ball_landed`, `dice_rolled`..."""

    kind: OptionalId
    data: dict[OptionalId, Text] = {}
    """For a card: `{"hand": "player", "card": "KH"}`; for roulette: `{"number": "17"}`."""
    video_timecode: OptionalId = ""


class ResultDeclared(_RoundEvent, frozen=True, kw_only=True, tag="round.result"):
    """The provider's final result, with its hash over the round's events."""

    result: dict[OptionalId, Text]
    """Roulette `{"number": "17"}`; baccarat `{"player": "6", "banker": "7", "player_pair":
    "false", "banker_pair": "true"}`; blackjack per seat `{"dealer": "19", "seat:<bet_id>": "20"}`
    or `{"dealer": "bust"}`; dragon tiger `{"dragon": "K", "tiger": "9"}`."""
    round_hash: OptionalId = ""
    video_timecode: OptionalId = ""


class RoundVoided(_RoundEvent, frozen=True, kw_only=True, tag="round.void"):
    """The round is cancelled; every bet in it is refunded once, with `cause`."""

    cause: OptionalId
    """STREAM_FAILURE, DEALER_ERROR, DISPUTE, PROVIDER_CANCELLED, ..."""
    video_timecode: OptionalId = ""


AnyProviderEvent = BettingOpened | BettingClosed | GameEvent | ResultDeclared | RoundVoided

_ENCODER = msgspec.json.Encoder(order="sorted")


def round_digest(events: Iterable[AnyProviderEvent]) -> str:
    """The canonical SHA-256 over a round's provider events, in `seq` order.

    Each event is encoded as sorted-key JSON without its `video_timecode` (recordings are
    cut after the fact), one per line; `round_hash` is left out of the result event so a
    provider can compute the hash before sending it.
    """
    digest = hashlib.sha256()
    for event in sorted(events, key=lambda e: e.seq):
        fields = msgspec.to_builtins(event)
        fields.pop("video_timecode", None)
        fields.pop("round_hash", None)
        fields["type"] = type(event).__struct_config__.tag
        digest.update(_ENCODER.encode(fields))
        digest.update(b"\n")
    return digest.hexdigest()
