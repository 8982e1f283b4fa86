"""The start-up check of the nats-py override passes on the pinned nats-py and fails loudly
on one that no longer calls what is rerouted."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client
from nats.protocol import parser

from services.eventstore import nats_override
from services.eventstore.nats_override import NatsOverrideBroken


async def test_the_installed_nats_py_passes_the_start_up_check() -> None:
    await nats_override.check()


async def test_the_check_fails_when_nats_py_reads_headers_without_the_rerouted_method(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A nats-py release that parses headers its own new way, never calling
    # `_parse_header_lines`: the override would be silently bypassed.
    async def reads_on_its_own(self: Client, headers: bytes) -> dict[str, str] | None:
        name, _, value = headers.split(b"\r\n")[1].partition(b":")
        return {name.decode(): value.strip().decode()}

    monkeypatch.setattr(Client, "_process_headers", reads_on_its_own)
    with pytest.raises(NatsOverrideBroken, match="_parse_header_lines"):
        await nats_override.self_test()


async def test_the_check_fails_when_nats_py_hands_messages_to_another_method(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A nats-py release whose parser dispatches a message by another name than
    # `_process_msg`: the direct reader would never see a batch direct get's answer.
    class RenamedDispatch(parser.Parser):
        async def parse(self, data: bytes = b"") -> None:
            received: Any = getattr(self.nc, "_process_message", None)
            if received is not None:
                await received(data)

    monkeypatch.setattr(parser, "Parser", RenamedDispatch)
    with pytest.raises(NatsOverrideBroken, match="_process_msg"):
        await nats_override.self_test()


def test_a_nats_py_release_the_override_was_not_written_for_is_refused() -> None:
    with pytest.raises(NatsOverrideBroken, match=r"nats-py 2\.17\.0 is installed"):
        nats_override.check_version("2.17.0")
    nats_override.check_version("2.16.0")
