"""What an id may hold: one policy for every dialect, feed and read route.

Every id a caller hands livebridge (transaction, bet, round, game, table, player and
session ids, feed round ids) is checked here, at the edge, before anything is written.
An id that passes can be stored in PostgreSQL text and jsonb, encoded into a JetStream KV
key or a NATS subject token, put in a header, and looked up again through the read API.

The policy:

- **Length**: 1 to `MAX_LENGTH` (128) characters. An optional id may be empty.
- **Characters**: any Unicode character except those that PostgreSQL cannot store or that
  make two ids look alike: control characters (U+0000-U+001F, U+007F-U+009F, so NUL, tab
  and newline too), zero-width and bidirectional formatting characters (U+200B-U+200F,
  U+2028-U+202E, U+2060-U+206F, U+FEFF), lone surrogates (U+D800-U+DFFF) and the
  specials block (U+FFF0-U+FFFF, including the replacement character U+FFFD that stands
  for bytes that were not UTF-8).
- **Free text** (a Pragmatic `roundDetails`, a Hub88 `bet`) may also hold tab, newline
  and carriage return, up to the field's own limit, and nothing else of the above.

Wire structs use the msgspec types below (`Id`, `OptionalId`, `Text`), so a call holding
another id is refused while it is decoded, in the caller's dialect, like any malformed
call. Code that gets ids some other way (a URL path, a query string) calls `problem` or
`check`.

Errors::

    ValueError
    └── InvalidId     an id outside the policy; the message names the field and the rule
"""

from __future__ import annotations

import re
from typing import Annotated
from typing import Final

import msgspec

MAX_LENGTH: Final = 128
"""The longest id, in characters, in every dialect, feed and read route."""

_INVISIBLE: Final = (
    "\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff\ufff0-\uffff"
)
_ID_FORBIDDEN: Final = "\u0000-\u001f" + _INVISIBLE
_TEXT_FORBIDDEN: Final = "\u0000-\u0008\u000b\u000c\u000e-\u001f" + _INVISIBLE

ID_PATTERN: Final = f"^[^{_ID_FORBIDDEN}]*\\Z"
"""What every id matches (`re.search`, as msgspec applies it)."""
TEXT_PATTERN: Final = f"^[^{_TEXT_FORBIDDEN}]*\\Z"
"""What free text matches: an id's characters plus tab, newline and carriage return."""

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LENGTH, pattern=ID_PATTERN)]
"""A transaction, bet, round, player or session id: never empty."""
OptionalId = Annotated[str, msgspec.Meta(max_length=MAX_LENGTH, pattern=ID_PATTERN)]
"""An id that may be absent (empty): a game code, a table, an optional round."""
Text = Annotated[str, msgspec.Meta(max_length=1024, pattern=TEXT_PATTERN)]
"""Free text the provider sends along (round details, descriptions): at most 1,024 characters."""
LongText = Annotated[str, msgspec.Meta(max_length=4096, pattern=TEXT_PATTERN)]
"""Free text up to 4,096 characters (a Hub88 `bet` description)."""

_FORBIDDEN_ID_CHAR: Final = re.compile(f"[{_ID_FORBIDDEN}]")


class InvalidId(ValueError):
    """An id outside the policy (see the module docstring)."""

    code = "INVALID_ID"


def problem(value: str, field: str = "id", *, optional: bool = False) -> str | None:
    """What is wrong with `value` as an id named `field`, or None when it is a good id."""
    if not value:
        return None if optional else f"{field} must not be empty"
    if len(value) > MAX_LENGTH:
        return f"{field} is {len(value)} characters long; at most {MAX_LENGTH} are allowed"
    bad = _FORBIDDEN_ID_CHAR.search(value)
    if bad is not None:
        return (
            f"{field} holds U+{ord(bad.group()):04X} at position {bad.start()}; ids may not "
            "hold control, invisible formatting or surrogate characters"
        )
    return None


def check(value: str, field: str = "id", *, optional: bool = False) -> str:
    """`value` when it is a good id named `field`; `InvalidId` saying why not otherwise."""
    found = problem(value, field, optional=optional)
    if found is not None:
        raise InvalidId(found)
    return value
