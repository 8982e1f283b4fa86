"""The settle publisher's checkpoint read while another publisher saves one.

A save writes the new checkpoint's chunks, then its description, then removes the old
chunks. The bridge that takes the `round-settle` lease over reads the checkpoint while the
former holder (paused, or finishing its last step) may still be saving one: the description
it read names chunks that are gone before it has read them all. The read must give up and
look again, not wait for those chunks for ever, publishing nothing while it holds the lease.
"""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client

from services.ledger.application import Ledger
from services.platform import publisher
from services.platform.publisher import CheckpointStore
from services.platform.service import settle_feed
from services.platform.stream import SettleStream
from tests.integration.platform.test_webhooks import PLAYERS
from tests.integration.platform.test_webhooks import eventually
from tests.integration.platform.test_webhooks import expected
from tests.integration.platform.test_webhooks import play_rounds
from tests.integration.platform.test_webhooks import stream_messages


async def test_a_checkpoint_whose_chunks_a_concurrent_save_removed_is_read_again_not_awaited(
    nc: Client, stream_prefix: str, app: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publisher, "CHECKPOINT_READ_S", 2.0)
    stream = SettleStream.prefixed(stream_prefix)
    play_rounds(app, 1, 2)
    async with settle_feed(ledger=app, nc=nc, stream=stream, checkpoint_every=0) as feed:
        await eventually(lambda: feed.publisher.published == 2 * len(PLAYERS))
        await eventually(feed.publisher.caught_up.is_set)
    js = nc.jetstream()
    checkpoints = CheckpointStore(js, f"{stream.name}_STATE")
    saved = await checkpoints.load()
    assert saved is not None
    # The former holder's save is under way: the chunks of the checkpoint the new holder
    # is about to read are removed, and the description naming them is not replaced yet.
    bucket = await js.object_store(checkpoints.bucket)
    nuid = (await bucket.get_info(checkpoints.name)).nuid
    await js.purge_stream(f"OBJ_{checkpoints.bucket}", subject=f"$O.{checkpoints.bucket}.C.{nuid}")

    play_rounds(app, 3, 1)
    async with settle_feed(ledger=app, nc=nc, stream=stream, checkpoint_every=0) as feed:
        await asyncio.sleep(1.0)  # the new holder has read the description by now
        await checkpoints.save(saved)  # the former holder's save completes
        await eventually(lambda: feed.publisher.published == len(PLAYERS), within=15)
        await eventually(feed.publisher.caught_up.is_set)

    assert await stream_messages(nc, stream) == sorted(expected(app), key=lambda s: s.log_position)
