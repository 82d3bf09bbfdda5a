"""One OAuth2 token for the whole cluster: fetched once, shared through PostgreSQL.

:class:`SharedTokenProvider` is the delivery worker's :class:`~cdomail.relay.oauth2.TokenProvider`
with the cache moved into the ``oauth2_tokens`` table. A node whose own copy is due for refresh
takes ``pg_advisory_xact_lock`` for the (token_url, client_id) pair, reads the row again (another
node may have refreshed meanwhile: then that token is used, no request), and only otherwise asks
the token endpoint, inside the same transaction. So one refresh is in flight for the cluster,
and a rotated refresh token (RFC 6749 section 6) is committed together with the access token it
came with: every node uses the newest refresh token, never one the server already spent.

The configured ``refresh_token`` (``file:``/``env:``) seeds the row the first time; after that
the database holds the current one (``relay status`` never shows it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ..config import OAuth2Config
from ..oauth2 import AccessToken, TokenProvider
from ._db import ConnectionPool, transaction
from .limits import upstream_key

__all__ = ["SharedTokenProvider"]


class SharedTokenProvider(TokenProvider):
    """A :class:`TokenProvider` whose token and refresh token live in the queue database."""

    def __init__(self, settings: OAuth2Config, pool: ConnectionPool, *,
                 clock: Callable[[], float] = time.time, **options: Any) -> None:
        super().__init__(settings, clock=clock, **options)
        self._pool = pool
        self._row_key = (settings.token_url, settings.client_id)
        self._lock_key = upstream_key(f"oauth2 {settings.token_url} {settings.client_id}")
        self._stored_refresh: str | None = None  # the database's, while a refresh runs
        self._rotated: str | None = None  # what the endpoint just sent, to commit

    async def token(self) -> str:
        """The cluster's token: this node's copy, the database's, or one new for all."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            token = await asyncio.to_thread(self._shared_token)
            self._cached = token
            return token.value

    def _shared_token(self) -> AccessToken:
        with transaction(self._pool, "cannot read the shared OAuth2 token") as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            cursor.execute("SELECT access_token, expires_at, refresh_at, refresh_token FROM"
                           " oauth2_tokens WHERE token_url = %s AND client_id = %s",
                           self._row_key)
            row = cursor.fetchone()
            if row is not None and row[0] is not None and self._clock() < row[2]:
                return AccessToken(row[0], row[1], row[2])  # another node refreshed it
            self._stored_refresh = None if row is None else row[3]
            self._rotated = None
            try:
                token = self._fetch()
            finally:
                self._stored_refresh = None
            refresh = self._rotated or (None if row is None else row[3])
            cursor.execute(
                "INSERT INTO oauth2_tokens VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT"
                " (token_url, client_id) DO UPDATE SET access_token = excluded.access_token,"
                " expires_at = excluded.expires_at, refresh_at = excluded.refresh_at,"
                " refresh_token = excluded.refresh_token, updated_at = excluded.updated_at",
                (*self._row_key, token.value, token.expires_at, token.refresh_at, refresh,
                 time.time()))
        return token

    def invalidate(self, value: str) -> None:
        """The upstream refused *value*: forget it here and for the other nodes."""
        super().invalidate(value)
        with transaction(self._pool, "cannot forget the refused OAuth2 token") as cursor:
            cursor.execute("UPDATE oauth2_tokens SET access_token = NULL WHERE token_url = %s"
                           " AND client_id = %s AND access_token = %s", (*self._row_key, value))

    def _current_refresh_token(self, spec: str) -> str:
        if self._stored_refresh is not None:
            return self._stored_refresh
        return super()._current_refresh_token(spec)

    def _keep_rotated(self, spec: str, rotated: str) -> None:
        # Committed with the access token (see _shared_token); the configured file or
        # variable only seeds the first refresh.
        self._rotated = rotated
