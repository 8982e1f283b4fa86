"""The wire form shared by the messages of several tagged unions."""

from __future__ import annotations

import msgspec


class Tagged(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="type"):
    """A message of a tagged union with its kind in a `type` field and its fields in
    camelCase: the bet socket's messages, a player's protection changes, the playbook's
    alerts.

    A message names its kind (`tag="bet.place"`) and says `frozen=True, kw_only=True` again:
    msgspec does not inherit `kw_only`.
    """
