"""Game launch and sessions: how the platform seats a player at a live table.

The platform launches a game for a player (`POST /platform/v1/sessions`) and gets back:

- `sessionId`: the platform's session, stable across relaunches, reconnects and table
  switches (a relaunch of the same player and currency while the session is open gives
  the same `sessionId`);
- `providerToken`: what the provider's wallet calls will present (Hub88 `token`,
  Evolution `sid`, Pragmatic `token`, SoftSwiss `session_id`, Ezugi launch `token`); it
  expires after `providerIdleSeconds` unused (sliding), and a relaunch gives the same one
  while it lives;
- `playerToken`: a short-lived JWT (at most 10 minutes) for the player's own calls; the
  front refreshes it before `playerTokenExpiresAt`;
- `serverTime`: livebridge's clock, to run timers from.

Closing the session (`POST /platform/v1/sessions/{sessionId}/close`) revokes its provider
tokens and answers `session.close`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from contracts.ids import Id
from contracts.ids import OptionalId

Country = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}\\Z")]
"""ISO 3166-1 alpha-2, upper case: `DE`, `MT`."""
Language = Annotated[str, msgspec.Meta(pattern="^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\\Z")]
"""A BCP 47 language tag: `en`, `pt-BR`."""


class KycStatus(enum.StrEnum):
    VERIFIED = "VERIFIED"
    PENDING = "PENDING"
    UNVERIFIED = "UNVERIFIED"


class StreamUrls(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Where the front plays a table's video: WebRTC first, LL-HLS as the fallback."""

    webrtc: str = ""
    hls: str = ""


class Launch(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Seat `player` at `table` of `provider`, playing in `currency`."""

    player: Id
    currency: str
    country: Country
    kyc_status: KycStatus
    provider: str
    table: OptionalId = ""
    language: Language = "en"
    game: OptionalId = ""


class Launched(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A launched (or relaunched) session."""

    session_id: str
    provider: str
    provider_token: str
    provider_idle_seconds: float
    player_token: str
    player_token_expires_at: datetime
    server_time: datetime
    expires_at: datetime
    """When the provider token expires if unused from now on."""
    relaunched: bool = False
    """True when the session was open already: same `sessionId`."""
    bet_socket_url: str = ""
    """The bet socket (WebSocket) for the player's front: add `?token=<playerToken>`."""
    stream_url: str = ""
    """The table's video (WebRTC when the catalogue has it, else LL-HLS); empty when the
    catalogue does not list the table."""
    stream: StreamUrls = StreamUrls()
    """Both of the table's stream URLs, for the player's WebRTC -> LL-HLS fallback."""


class PlayerToken(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A fresh player token for the same session."""

    session_id: str
    player_token: str
    player_token_expires_at: datetime
    server_time: datetime


class SessionState(enum.StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class SessionView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A session as livebridge holds it."""

    session_id: str
    player: str
    currency: str
    country: str
    kyc_status: KycStatus
    language: str
    state: SessionState
    providers: tuple[str, ...]
    """The providers the session was launched at."""
    table: str
    opened_at: datetime
    server_time: datetime
