"""A dialect's driver by its name: the client that signs as the provider, the driver on it."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from services.simulate.clients.base import Transport
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.drivers.base import Retry
from services.simulate.drivers.base import WalletDriver
from services.simulate.drivers.evolution import EvolutionDriver
from services.simulate.drivers.ezugi import EzugiDriver
from services.simulate.drivers.hub88 import Hub88Driver
from services.simulate.drivers.pragmatic import PragmaticDriver
from services.simulate.drivers.softswiss import SoftSwissDriver

DIALECTS = ("softswiss", "ezugi", "hub88", "evolution", "pragmatic")


def driver_for(
    dialect: str,
    transport: Transport,
    secret: str = "",
    *,
    hub88_key: rsa.RSAPrivateKey | None = None,
    ezugi_operator: int = 0,
    retry: Retry | None = None,
) -> WalletDriver:
    """The `dialect` driver over `transport`. Its client signs with the provider's `secret`,
        except Hub88's, which signs with Hub88's private key (`hub88_key`); Ezugi's also names
        the operator (`ezugi_operator`). `retry` is the provider's rhythm of resends where the
    dialect has one (Hub88, Evolution, Pragmatic). A missing Hub88 key or an unknown dialect:
    ValueError."""
    match dialect:
        case "hub88":
            if hub88_key is None:
                raise ValueError("Hub88 requests are signed with Hub88's private key: give one")
            return Hub88Driver(Hub88Client(transport, hub88_key), retry=retry)
        case "evolution":
            return EvolutionDriver(EvolutionClient(transport, secret), retry)
        case "pragmatic":
            return PragmaticDriver(PragmaticClient(transport, secret), retry)
        case "softswiss":
            return SoftSwissDriver(SoftSwissClient(transport, secret))
        case "ezugi":
            return EzugiDriver(EzugiClient(transport, secret, ezugi_operator))
    raise ValueError(f"unknown dialect {dialect!r}: one of {', '.join(DIALECTS)}")
