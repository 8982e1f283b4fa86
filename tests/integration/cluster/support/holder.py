"""A job that must run once, as a process of its own: `python -m ...holder URL PREFIX NAME`.

It tries for the lease `job` in the bucket `<PREFIX>_LEASES` (ttl 1.5 s). While it believes
it holds the lease it writes, every 50 ms, one message `<name> <revision>` to the stream
`W<PREFIX>`, fenced twice over, as the settle publisher's batches are: the lease is renewed
under its revision just before, and the message carries `Nats-Expected-Last-Sequence`, the
stream's last sequence as this holder knows it (read when it took the lease), so a write
that another holder's writes overtook is refused by the stream itself.
It prints `held <revision>` when it takes the lease and `refused` when a write is refused.
"""

from __future__ import annotations

import asyncio
import sys

import nats
from nats.js.errors import APIError

from services.infra.lease import Lease
from services.infra.lease import LeaseLost
from services.infra.lease import lease_bucket

TTL = 1.5
WRONG_LAST_SEQUENCE = 10071


async def main(url: str, prefix: str, name: str) -> None:
    nc = await nats.connect(url.split(","), max_reconnect_attempts=-1)
    js = nc.jetstream()
    lease = Lease(await lease_bucket(js, prefix, 3), "job", name, ttl=TTL)
    last = 0
    while True:
        try:
            if not lease.revision:
                if await lease.acquire():
                    last = (await js.stream_info(f"W{prefix}")).state.last_seq
                    print("held", lease.revision, flush=True)
            else:
                revision = await lease.fence()
                ack = await js.publish(
                    f"work.{prefix}",
                    f"{name} {revision}".encode(),
                    headers={"Nats-Expected-Last-Sequence": str(last)},
                )
                last = ack.seq
        except LeaseLost:
            print("refused", flush=True)
        except APIError as error:
            if error.err_code != WRONG_LAST_SEQUENCE:
                raise
            lease.revision = 0  # another holder wrote: ours is gone
            print("refused", flush=True)
        except Exception as error:  # a node away: try again
            print("error", type(error).__name__, flush=True)
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
