"""One conformance suite for every `CursorStore`: subclass it and provide the `store` fixture."""

from __future__ import annotations

from services.edge.feeds.cursors import CursorStore

AWKWARD_KEYS = [
    "cursor.evo.pull",
    "round.evo.R-2025-10-17-18:45:03-Table23",
    "round.evo.with space",
    "round.ezugi.ünïcode/🎲",
    "round.x.*.>",
]


class CursorStoreSuite:
    async def test_a_key_never_written_is_none(self, store: CursorStore) -> None:
        assert await store.get("cursor.nobody.pull") is None

    async def test_what_was_put_is_got(self, store: CursorStore) -> None:
        await store.put("cursor.evo.pull", "c-17")
        assert await store.get("cursor.evo.pull") == "c-17"

    async def test_the_last_put_wins(self, store: CursorStore) -> None:
        for value in ("1", "2", "10"):
            await store.put("round.evo.r1", value)
        assert await store.get("round.evo.r1") == "10"

    async def test_keys_with_any_characters_are_kept_apart(self, store: CursorStore) -> None:
        for number, key in enumerate(AWKWARD_KEYS):
            await store.put(key, str(number))
        assert [await store.get(k) for k in AWKWARD_KEYS] == [
            str(n) for n in range(len(AWKWARD_KEYS))
        ]

    async def test_keys_of_any_length_are_kept_apart_and_the_store_stays_usable(
        self, store: CursorStore
    ) -> None:
        long_keys = [
            "round.evo." + "r" * 3000,
            "round.evo." + "r" * 2999 + "s",
            "round.evo.é" * 300,
        ]
        for number, key in enumerate(long_keys):
            await store.put(key, str(number))
        assert [await store.get(k) for k in long_keys] == ["0", "1", "2"]
        await store.put("round.evo.r1", "7")
        assert await store.get("round.evo.r1") == "7"
