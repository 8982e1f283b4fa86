"""A JetStream KV entry changed by compare-and-set: never written over a change it did not see.

`change_entry` reads the entry, asks `change` what to write, and writes it only over the
revision it read (`create` when there was none); when another writer got there first it
reads again and asks again. A revoke or a close landing between a reader's read and its
write is therefore seen by `change`, never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.js.errors import KeyNotFoundError
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

TRIES = 32
"""Conflicts in a row before giving up: each means another writer changed the entry."""


async def change_entry(
    kv: KeyValue,
    key: str,
    change: Callable[[bytes | None], bytes | None],
    *,
    before_write: Callable[[], None] = lambda: None,
) -> bytes | None:
    """What the entry under `key` holds once `change` is applied to what it held (None:
    no entry, or an empty one). `change` returns the value to write, or None to leave the
    entry as it is (then its value is returned). `before_write` runs just before each
    write (a cache dropping its copy, so a read under way cannot keep what this replaces)."""
    for _ in range(TRIES):
        try:
            entry = await kv.get(key)
        except (KeyNotFoundError, NotFoundError):
            entry = None
        before = entry.value if entry is not None and entry.value else None
        after = change(before)
        if after is None:
            return before
        before_write()
        try:
            if entry is None:
                await kv.create(key, after)
            else:
                await kv.update(key, after, last=entry.revision)
        except KeyWrongLastSequenceError:
            continue  # changed since: ask again over what is there now
        return after
    raise RuntimeError(f"KV entry {key} keeps changing; try again")
