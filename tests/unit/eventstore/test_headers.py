"""Message headers are read exactly as nats-py reads them, only faster."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from services.eventstore import nats_override
from services.eventstore.connection import StoredMsg
from services.eventstore.connection import message_headers
from services.eventstore.nats_override import DirectClient
from services.eventstore.nats_override import parse_header_lines

BLOCKS = [
    b"ES-Version: 3\r\nES-Topic: services.ledger.domain:Wallet.StakeHeld\r\n\r\n",
    b"Nats-Msg-Id:abc:0\r\nNats-Expected-Last-Subject-Sequence:\t12\r\n",
    b"Bad Name: dropped\r\nGood: kept\r\n\tFolded: dropped too\r\n",
    b"no colon here\r\n: empty name\r\nK: caf\xc3\xa9 \xff\r\n",
    b"N\xc3\xa4me: non-ascii name is dropped\r\nDup: 1\r\nDup: 2\r\n",
    b"",
]


@pytest.mark.parametrize("raw", BLOCKS)
def test_header_lines_read_as_nats_py_reads_them(raw: bytes) -> None:
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)


async def test_the_connection_client_reads_received_headers_with_the_fast_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only `parse_header_lines` remembers the header names it has read: a name appears in
    # its memory only if the headers went through it on nats-py's receive path (an
    # override that a nats-py release stopped calling would leave the memory empty).
    remembered: dict[bytes, str | None] = {}
    monkeypatch.setattr(nats_override, "_NAMES", remembered)
    raw = b"NATS/1.0\r\nES-Version: 7\r\nX-Probe: 1\r\n\r\n"
    headers = await DirectClient()._process_headers(raw)
    assert headers == {"ES-Version": "7", "X-Probe": "1"}
    assert remembered == {b"ES-Version": "ES-Version", b"X-Probe": "X-Probe"}


@pytest.mark.parametrize(
    "raw",
    [
        b"NATS/1.0\r\nES-Version: 7\r\n\r\n",
        b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\nNats-Last-Sequence: 12\r\n\r\n",
        b"NATS/1.0 404 Message Not Found\r\n\r\n",
        b"NATS/1.0 408\r\n\r\n",
    ],
)
async def test_a_message_header_block_reads_as_nats_py_reads_it(raw: bytes) -> None:
    assert message_headers(raw) == await Client()._process_headers(raw)


def test_one_header_is_found_as_the_whole_block_reads_it() -> None:
    raw = (
        b"NATS/1.0\r\nES-Topic: a:b\r\nES-Version: 3\r\nNats-Subject: S.e.x\r\n"
        b"Nats-Sequence: 12\r\nNats-Sequence: 13\r\n\r\n"
    )
    stored = StoredMsg("S.e.x", 13, b"{}", raw_headers=raw)
    for name in ("ES-Topic", "ES-Version", "Nats-Subject", "Nats-Sequence", "Missing"):
        assert stored.find_header(name) == message_headers(raw).get(name)
    with pytest.raises(KeyError):
        stored.header("Missing")
    assert stored.headers == message_headers(raw)
