"""The canonical provider feed on the wire: how game events reach the bridge.

A provider tells the bridge how its rounds go in one of three ways, all carrying the
events of `contracts.events`:

- **push**: the provider POSTs a `FeedBatch` to `/feed/<provider>`, signed with
  `X-Feed-Signature` = hex HMAC-SHA256 of the raw body under the provider's feed secret;
  the bridge answers with a `FeedAck`.
- **pull**: the bridge GETs the provider's feed URL with `?cursor=<last cursor>` and gets
  a `FeedBatch` whose `cursor` is where to ask from next time. The provider signs the
  body the same way.
- **socket**: the bridge keeps a WebSocket open to the provider, opened with
  `?after=<last cursor>`; every text message is a `FeedFrame`.

Events may come twice or out of order; each carries its round's `seq`, which is how the
bridge absorbs duplicates and finds gaps. Cursors are opaque to the bridge.
"""

from __future__ import annotations

from typing import Final

import msgspec

from contracts import signatures
from contracts.bodies import decode_with
from contracts.events import AnyProviderEvent

SIGNATURE_HEADER: Final = "X-Feed-Signature"


sign: Final = signatures.sign_hex
"""The `X-Feed-Signature` of a raw body: hex HMAC-SHA256 under the feed secret."""
verify: Final = signatures.verify_hex
"""Constant-time check of a feed signature; a missing one never verifies."""


class FeedBatch(msgspec.Struct, frozen=True, kw_only=True):
    """Game events from one provider, in any order: a push body or a pull answer.

    `cursor` (pull only) is the position after these events; the next pull asks from it.
    """

    events: list[AnyProviderEvent]
    cursor: str = ""


class FeedFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One WebSocket message: events and the stream position after them.

    A client that reconnects with `?after=<cursor>` gets every event after that position.
    """

    events: list[AnyProviderEvent]
    cursor: str = ""


class FeedAck(msgspec.Struct, frozen=True, kw_only=True):
    """The bridge's answer to a push: how many events were new, repeated or held back.

    `held` events wait for a missing earlier `seq` of their round; they are recorded when
    it arrives or, after a timeout, recorded anyway with the gap reported.
    """

    accepted: int
    duplicates: int
    held: int


class FeedError(msgspec.Struct, frozen=True, kw_only=True):
    """A refused push: `error` is `LBRG-<http status> <CODE>`, `message` says what to fix."""

    error: str
    message: str


class RawBatch(msgspec.Struct, frozen=True, kw_only=True):
    """A `FeedBatch` or `FeedFrame` with its events still undecoded: a pull or socket feed
    reads each event on its own (`read_events`), so one bad event never holds up the rest."""

    events: list[msgspec.Raw]
    cursor: str = ""


def read_events(raws: list[msgspec.Raw]) -> tuple[list[AnyProviderEvent], list[str]]:
    """The events that decode, and what is wrong with each one that does not."""
    events: list[AnyProviderEvent] = []
    problems: list[str] = []
    for number, raw in enumerate(raws):
        try:
            events.append(decode_with(event_decoder, raw))
        except msgspec.DecodeError as error:
            problems.append(f"event {number} of the batch is not a provider event: {error}")
    return events, problems


batch_decoder: Final = msgspec.json.Decoder(FeedBatch)
raw_batch_decoder: Final = msgspec.json.Decoder(RawBatch)
event_decoder: Final = msgspec.json.Decoder(AnyProviderEvent)
frame_decoder: Final = msgspec.json.Decoder(FeedFrame)
ack_decoder: Final = msgspec.json.Decoder(FeedAck)
encoder: Final = msgspec.json.Encoder()
