"""Every dialect the edge speaks: its name in `livebridge.toml` -> its adapter class.

Imported explicitly, so that a reader (and the import-directions test) sees every adapter
the edge can load; a new dialect is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from services.edge.adapters import evolution
from services.edge.adapters import ezugi
from services.edge.adapters import hub88
from services.edge.adapters import pragmatic
from services.edge.adapters import softswiss
from services.edge.adapters.base import DialectAdapter
from services.edge.adapters.base import EdgeContext
from services.edge.config import ProviderConfig

ADAPTERS: Final[Mapping[str, type[DialectAdapter]]] = {
    adapter.dialect: adapter
    for adapter in (
        evolution.Adapter,
        ezugi.Adapter,
        hub88.Adapter,
        pragmatic.Adapter,
        softswiss.Adapter,
    )
}


def load_adapter(provider: ProviderConfig, context: EdgeContext) -> DialectAdapter:
    """The adapter of the provider's dialect, made for this provider."""
    adapter = ADAPTERS.get(provider.dialect)
    if adapter is None:
        raise LookupError(
            f"provider {provider.id!r}: no adapter for dialect {provider.dialect!r} "
            f"(known: {', '.join(sorted(ADAPTERS))})"
        )
    return adapter(provider, context)
