"""Player tokens: short-lived HS256 JWTs (PyJWT) that name one player and one session.

A token carries `sub` (the player), `sid` (the platform session), `op` (the operator
that launched it), `iat`, `exp` (at most `MAX_PLAYER_TOKEN_TTL_S` later), `iss` and `aud`.
The guard verifies it for player routes: an expired one is `LBRG-401 TOKEN_EXPIRED`; a
forged, malformed, other-audience or other-key one is `LBRG-401 INVALID_TOKEN`. What it
proves is in `request[PLAYER]`; a handler acting on a session checks it is the token's own
(`LBRG-403 NOT_YOUR_SESSION`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

import jwt
from aiohttp import web

from services.frontdoor.config import MAX_PLAYER_TOKEN_TTL_S
from services.frontdoor.http import ApiError

ISSUER = "livebridge"
AUDIENCE = "livebridge-player"
ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class PlayerClaims:
    player: str
    session_id: str
    operator: str
    expires_at: float


PLAYER = web.RequestKey("player_claims", PlayerClaims)


class PlayerTokens:
    def __init__(self, secret: bytes, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        if not 0 < ttl_s <= MAX_PLAYER_TOKEN_TTL_S:
            raise ValueError(f"player token ttl must be in (0, {MAX_PLAYER_TOKEN_TTL_S}] s")
        self._secret = secret
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, player: str, session_id: str, operator: str) -> tuple[str, datetime]:
        now = int(self._clock())
        expires = now + int(self.ttl_s)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": player,
            "sid": session_id,
            "op": operator,
            "iat": now,
            "exp": expires,
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        return token, datetime.fromtimestamp(expires, UTC)

    def verify(self, token: str) -> PlayerClaims:
        try:
            claims = jwt.decode(
                # a header's bytes that are not UTF-8 (surrogates here) are no JWT's
                token.encode(errors="surrogateescape"),
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "op"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(
                "TOKEN_EXPIRED", "the player token has expired; get a fresh one from the platform"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise ApiError("INVALID_TOKEN", f"the player token is not valid ({exc})") from None
        fields = (claims.get("sub"), claims.get("sid"), claims.get("op"))
        if not all(isinstance(f, str) and f for f in fields):
            raise ApiError("INVALID_TOKEN", "the player token's claims are malformed")
        return PlayerClaims(
            player=claims["sub"],
            session_id=claims["sid"],
            operator=claims["op"],
            expires_at=float(claims["exp"]),
        )

    async def check(self, request: web.Request, token: str) -> None:
        """The guard's `PlayerCheck`."""
        request[PLAYER] = self.verify(token)
