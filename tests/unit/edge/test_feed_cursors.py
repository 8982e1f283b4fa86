"""The in-memory cursor store honours the `CursorStore` contract."""

from __future__ import annotations

import pytest

from services.edge.feeds.cursors import MemoryCursorStore
from tests.unit.edge.support.cursor_store_suite import CursorStoreSuite


class TestMemoryCursorStore(CursorStoreSuite):
    @pytest.fixture
    def store(self) -> MemoryCursorStore:
        return MemoryCursorStore()
