"""Message headers are read exactly as nats-py reads them, only faster."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from services.eventstore.connection import _Client, parse_header_lines, parse_headers

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


def test_the_connection_client_uses_the_fast_parser_and_leader_gets_skip_the_status_line() -> None:
    assert _Client._parse_header_lines is parse_header_lines
    assert parse_headers(b"NATS/1.0\r\nES-Version: 7\r\n\r\n") == {"ES-Version": "7"}
