"""What the bet socket pushes, read from the logs: betting opened and closed, settlements,
a provider going down.

Two logs hold what a player is told, both by ledger position (`logPosition`):

- **the ledger's log**: the provider's game events (`Round.EventRecorded`), read through
  the library's notification log and subscription (`recorder.subscribe`), become
  `betting.opened` (with `closesAt`) and `betting.closed`;
- **platform sessions** (their KV bucket's writes): a session closed by the operator
  ends its sockets with `session.close` at once;
- **`limits.update`**, published by the limits' routes on their subject once stored in
  the log, goes to the sockets of the provider (table, currency) it names, as it comes;
- **the `round.settle` stream**: each settlement (with `balanceAfter`) is a `round.settled`
  push to its player's sockets. Its messages carry the ledger position that completed
  them (`Livebridge-Log-Position`), in order.

The hub's follower of the ledger's log also tells the ledger of this process what it
reads of rounds (`Ledger.known_rounds`): closes written by any process, so a debit here
refuses a closed round without reading it.

One `PushHub` per process follows both from their heads and hands each push to the
mailboxes of the sockets seated at its provider (and table, when the session names one).
A socket that reconnects with `position` (and `settledPosition`) is first sent what it
missed, read again from the logs after those positions (`PushHub.replay`), never from
memory: a reconnect to another process gets the same. A mailbox that overflows (a client
that does not read) is emptied and its socket closed; the client reconnects with its last
position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TypeVar

import msgspec
from aiohttp import web
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from contracts.catalog import ProviderState
from contracts.catalog import TableState
from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.platform import DECODER as SETTLE_DECODER
from contracts.platform import RoundSettle
from contracts.player import BettingClose
from contracts.player import BettingOpen
from contracts.player import CloseReason
from contracts.player import LimitsUpdate
from contracts.player import ProviderError
from contracts.player import SessionClose
from contracts.player import Settlement
from services.edge import natslink
from services.frontdoor.sessions import PlatformSession
from services.frontdoor.tables import TableStatuses
from services.ledger.application import Ledger
from services.ledger.rounds import Round
from services.ledger.rounds import decode_provider_event
from services.platform.stream import POSITION
from services.platform.stream import SettleStream
from services.platform.stream import token

log = logging.getLogger(__name__)

M = TypeVar("M")

ROUND_TOPIC = get_topic(Round.EventRecorded)
CLOSED_TOPIC = get_topic(Round.ClosedByTransaction)
MAILBOX = 1000
"""Pushes a socket may have waiting; past this it is closed and reconnects by position."""
MAX_REPLAY = 5000
"""Round events, and settlements asked for, read again for one reconnect, at most: the
newest, read back from the logs' ends (older ones are of finished rounds)."""
REPLAY_PAGE = 500
"""Log positions (or settle stream sequences) a reconnect reads at a time, going back."""
_limits_decoder = msgspec.json.Decoder(LimitsUpdate)
_session_decoder = msgspec.json.Decoder(PlatformSession)

Push = BettingOpen | BettingClose | Settlement | ProviderError | LimitsUpdate | SessionClose


@dataclass(frozen=True, slots=True)
class Seat:
    """Whom a socket listens for: its player and currency, at a provider (and table)."""

    player: str
    currency: str
    provider: str
    table: str = ""
    """Empty: every table of the provider."""
    session_id: str = ""

    def sees(self, push: Push) -> bool:
        match push:
            case Settlement(settle=settle):
                return (settle.player, settle.currency) == (self.player, self.currency)
            case BettingOpen() | BettingClose():
                return not self.table or not push.table or push.table == self.table
            case ProviderError():
                return True
            case SessionClose():
                return push.session_id == self.session_id
            case LimitsUpdate():
                return (not push.table or not self.table or push.table == self.table) and (
                    not push.currency or push.currency == self.currency
                )


@dataclass(eq=False)
class Mailbox:
    """The pushes waiting for one socket, `MAILBOX` at most.

    `behind` is set once its client is not keeping up: the mailbox overflowed, or the
    socket found it had stopped reading (`fall_behind`). From then on it holds nothing and
    takes nothing (the socket is closed, 1013, and the client reconnects by position to be
    sent it all again from the logs), so a client that stops reading holds no memory."""

    seat: Seat
    queue: asyncio.Queue[Push] = field(default_factory=lambda: asyncio.Queue(MAILBOX))
    behind: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, push: Push) -> None:
        if self.behind.is_set() or not self.seat.sees(push):
            return
        try:
            self.queue.put_nowait(push)
        except asyncio.QueueFull:
            self.fall_behind()

    def fall_behind(self) -> None:
        self.behind.set()
        while not self.queue.empty():
            self.queue.get_nowait()


class PushHub:
    def __init__(
        self,
        ledger: Ledger,
        nc: Client,
        stream: SettleStream,
        statuses: TableStatuses,
        limits_subject: str = "",
        sessions_bucket: str = "",
    ) -> None:
        self._ledger, self._nc, self._stream, self._statuses = ledger, nc, stream, statuses
        self._sessions_bucket = sessions_bucket
        self._sessions_sub: Any = None
        self._js: JetStreamContext = nc.jetstream()
        self._limits_subject = limits_subject
        self._limits_sub: Any = None
        self._mailboxes: dict[str, set[Mailbox]] = {}
        self._loop = asyncio.get_running_loop()
        self._subscription: Any = None
        self._stopped = threading.Event()
        self._follower: threading.Thread | None = None
        self._settle_sub: Any = None
        self._unlisten: Callable[[], None] | None = None

    def log_end(self) -> int:
        """The last position of the ledger's log, which every push's position is at or
        before (0 for an empty log). Blocking: a read of the log."""
        return self._ledger.recorder.max_notification_id() or 0

    async def start(self) -> None:
        recorder: Any = self._ledger.recorder
        head = await asyncio.to_thread(recorder.max_notification_id) or 0
        # Every notification, not only round events: a topic filter would leave the
        # subscription's position at the last round event, and each wake-up would read
        # again every bet written since.
        self._subscription = recorder.subscribe(gt=head)
        self._follower = threading.Thread(
            target=self._follow, args=(head,), name="push-hub", daemon=True
        )
        self._follower.start()
        self._settle_sub = await self._js.subscribe(
            f"{self._stream.root}.>",
            stream=self._stream.name,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            cb=self._on_settle,
        )
        self._unlisten = self._statuses.listen(self._on_status)
        if self._limits_subject:
            self._limits_sub = await self._nc.subscribe(self._limits_subject, cb=self._on_limits)
        if self._sessions_bucket:  # session writes from now on: a close ends its sockets
            self._sessions_sub = await self._js.subscribe(
                f"$KV.{self._sessions_bucket}.s.>",
                stream=f"KV_{self._sessions_bucket}",
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.NEW,
                cb=self._on_session,
            )

    async def stop(self) -> None:
        self._stopped.set()
        if self._unlisten is not None:
            self._unlisten()
        for sub in (self._settle_sub, self._limits_sub, self._sessions_sub):
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        if self._subscription is not None:
            await asyncio.to_thread(self._subscription.stop)
        if self._follower is not None:
            await asyncio.to_thread(self._follower.join, 5)

    def join(self, seat: Seat) -> Mailbox:
        mailbox = Mailbox(seat)
        self._mailboxes.setdefault(seat.provider, set()).add(mailbox)
        return mailbox

    def leave(self, mailbox: Mailbox) -> None:
        self._mailboxes.get(mailbox.seat.provider, set()).discard(mailbox)

    def _deliver(self, provider: str, push: Push) -> None:
        """To the mailboxes seated at `provider` (every mailbox: `provider` empty)."""
        seated = (
            self._mailboxes.get(provider, set())
            if provider
            else set().union(*self._mailboxes.values())
        )
        for mailbox in list(seated):
            mailbox.offer(push)

    # ---- the ledger's log -------------------------------------------------------------

    def _follow(self, position: int) -> None:
        """Push what each round event announces, from after `position`; a lost log (its
        server restarting) is followed again from the last position pushed."""
        while not self._stopped.is_set():
            try:
                if self._subscription is None:
                    self._subscription = self._ledger.recorder.subscribe(gt=position)
                for notification in self._subscription:
                    if self._stopped.is_set():
                        return
                    if notification.topic == ROUND_TOPIC:
                        push = self._round_push(notification)
                        if push is not None:
                            self._loop.call_soon_threadsafe(self._deliver, push.provider, push)
                    elif notification.topic == CLOSED_TOPIC:
                        # This process's debits know the round closed without reading it.
                        self._ledger.known_rounds.learn(
                            self._ledger.mapper.to_domain_event(notification)
                        )
                    position = notification.id
                return
            except Exception as error:
                if self._stopped.is_set():
                    return
                natslink.log_failure(
                    log,
                    f"the push hub lost the ledger's log after position {position}; "
                    "following it again in 1 s",
                    error,
                )
                stale, self._subscription = self._subscription, None
                with contextlib.suppress(Exception):
                    stale.stop()
                self._stopped.wait(1.0)

    def _round_push(self, notification: Notification) -> BettingOpen | BettingClose | None:
        """The push a round event makes, if any (runs in a thread: may read the ledger)."""
        event = self._ledger.mapper.to_domain_event(notification)
        self._ledger.known_rounds.learn(event)  # this process's debits read no round
        raw: str = getattr(event, "raw", "")
        if '"round.betting_' not in raw:
            return None
        provider_event = decode_provider_event(raw)
        now = datetime.now(UTC)
        match provider_event:
            case BettingOpened() as opened:
                return BettingOpen(
                    provider=opened.provider,
                    table=opened.table,
                    round_id=opened.round_id,
                    closes_at=opened.closes_at,
                    server_time=now,
                    log_position=notification.id,
                )
            case BettingClosed() as closed:
                return BettingClose(
                    provider=closed.provider,
                    table=self._table_of(closed.provider, closed.round_id),
                    round_id=closed.round_id,
                    server_time=now,
                    log_position=notification.id,
                )
        return None

    def _table_of(self, provider: str, round_id: str) -> str:
        """The round's table: known here since its opening (`known_rounds`, which forgets a
        round after two minutes of silence), else read from its aggregate."""
        known = self._ledger.known_rounds.get(provider, round_id)
        if known is not None and known.table:
            return known.table
        return self._ledger.round_header(provider, round_id).table

    # ---- the round.settle stream ------------------------------------------------------

    async def _on_settle(self, msg: Msg) -> None:
        settle = _readable(SETTLE_DECODER, msg, "round.settle")
        if settle is not None:
            push = Settlement(settle=settle, log_position=settle.log_position)
            self._deliver(settle.provider, push)

    # ---- limits.update (the limits engineer's subject: every stored update) -----------

    async def _on_limits(self, msg: Msg) -> None:
        update = _readable(_limits_decoder, msg, "limits.update")
        if update is not None:
            self._deliver(update.provider, update)

    # ---- platform sessions ----------------------------------------------------------------

    async def _on_session(self, msg: Msg) -> None:
        try:
            session = _session_decoder.decode(msg.data)
        except msgspec.DecodeError:
            return  # a deleted or purged entry
        if session.closed_at:
            self._deliver("", session_close(session))

    # ---- provider status ----------------------------------------------------------------

    def _on_status(self, state: ProviderState | TableState) -> None:
        if isinstance(state, ProviderState) and not state.up:
            self._deliver(
                state.provider,
                ProviderError(
                    provider=state.provider,
                    code="LBRG-503 PROVIDER_DOWN",
                    message=state.reason or f"provider {state.provider!r} is down",
                    occurred_at=state.changed_at,
                ),
            )

    # ---- a reconnect ----------------------------------------------------------------------

    async def replay(self, seat: Seat, position: int, settled_position: int) -> list[Push]:
        """What `seat` was told, or would have been, after `position` (round events) and
        `settled_position` (settlements), read again from the logs, in log order."""
        rounds = await asyncio.to_thread(self._round_pushes_after, position)
        settled = await self._settlements_after(seat.provider, settled_position)
        pushes: list[Push] = [p for p in rounds if seat.sees(p)]
        pushes += [
            Settlement(settle=s, log_position=s.log_position)
            for s in settled
            if seat.sees(Settlement(settle=s, log_position=s.log_position))
        ]
        return sorted(pushes, key=_position)

    def _round_pushes_after(self, position: int) -> list[BettingOpen | BettingClose]:
        """The pushes of the last `MAX_REPLAY` round events after `position`, in log order,
        read back from the log's end: after a long absence, the round open now is among
        them."""
        recorder: Any = self._ledger.recorder
        pages: list[list[Notification]] = []
        stop, read = self.log_end(), 0
        while stop > position and read < MAX_REPLAY:
            start = max(position + 1, stop - REPLAY_PAGE + 1)
            page = list(
                recorder.select_notifications(start, REPLAY_PAGE, stop=stop, topics=[ROUND_TOPIC])
            )
            pages.append(page[max(0, len(page) - (MAX_REPLAY - read)) :])
            read += len(page)
            stop = start - 1
        found: list[BettingOpen | BettingClose] = []
        for notification in (n for page in reversed(pages) for n in page):
            push = self._round_push(notification)
            if push is not None:
                found.append(push)
        return found

    async def _settlements_after(self, provider: str, position: int) -> list[RoundSettle]:
        name = self._stream.name
        state = (await self._js.stream_info(name)).state
        first, last = state.first_seq, state.last_seq
        if not last:
            return []
        low, high = first, last + 1  # the first sequence whose ledger position is > position
        while low < high:
            middle = (low + high) // 2
            stored = await self._js.get_msg(name, seq=middle)
            if int((stored.headers or {}).get(POSITION, "0")) > position:
                high = middle
            else:
                low = middle + 1
        # The newest first, a page at a time back to `low`, each page read forward.
        pages: list[list[RoundSettle]] = []
        subject = f"{self._stream.root}.{token(provider)}.>"
        asked = 0
        while last >= low and asked < MAX_REPLAY:
            start = max(low, last - REPLAY_PAGE + 1)
            page: list[RoundSettle] = []
            seq = start
            while seq <= last:
                asked += 1
                try:
                    stored = await self._js.get_msg(name, seq=seq, subject=subject, next=True)
                except NotFoundError:
                    break
                if stored.seq is None or stored.seq > last:
                    break
                page.append(SETTLE_DECODER.decode(stored.data or b""))
                seq = stored.seq + 1
            pages.append(page)
            last = start - 1
        return [settle for page in reversed(pages) for settle in page]


def session_close(session: PlatformSession) -> SessionClose:
    """The `session.close` a session's sockets are told: the reason stored with its close,
    or, for one never closed that went idle, EXPIRED when its `idle_until` passed."""
    if not session.closed_at:
        return SessionClose(
            session_id=session.session_id,
            reason=CloseReason.EXPIRED,
            closed_at=datetime.fromtimestamp(session.idle_until, UTC),
        )
    return SessionClose(
        session_id=session.session_id,
        reason=CloseReason(session.close_reason or CloseReason.OPERATOR.value),
        closed_at=datetime.fromtimestamp(session.closed_at, UTC),
    )


def _readable(decoder: msgspec.json.Decoder[M], msg: Msg, what: str) -> M | None:
    """`msg` decoded, or None (with a warning) for one livebridge cannot read."""
    try:
        return decoder.decode(msg.data)
    except msgspec.DecodeError:
        log.warning("a %s message livebridge cannot read on %s", what, msg.subject)
        return None


def _position(push: Push) -> int:
    return 0 if isinstance(push, ProviderError | SessionClose) else push.log_position


PUSH_HUB = web.AppKey("push_hub", PushHub)


def push_hub_ctx(
    *,
    ledger: Callable[[], Ledger],
    nc: Callable[[], Client],
    stream: SettleStream,
    statuses: Callable[[], TableStatuses],
    limits_subject: str = "",
    sessions_bucket: str = "",
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context that runs `PUSH_HUB` (after the ledger, NATS and table status)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await stream.ensure(nc().jetstream())
        hub = PushHub(ledger(), nc(), stream, statuses(), limits_subject, sessions_bucket)
        await hub.start()
        app[PUSH_HUB] = hub
        try:
            yield
        finally:
            await hub.stop()

    return ctx
