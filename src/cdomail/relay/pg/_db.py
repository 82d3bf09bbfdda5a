"""The PostgreSQL queue's connections: a psycopg pool, transactions, errors as SpoolError.

Durability: every store commits with the server's ``synchronous_commit`` (``on`` by default:
the commit record is flushed to the write-ahead log before COMMIT returns), so a 250 is only
sent for a message PostgreSQL has made durable. The queue refuses to start when the server (or
the role, or the database) is set to ``synchronous_commit = off``: that would trade the 250's
promise for speed without anyone noticing.
"""

from __future__ import annotations

import errno
import ipaddress
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool

from .._secrets import resolve_secret
from ..config import SpoolConfig
from ..spool import SpoolError, SpoolFull

__all__ = ["ConnectionPool", "connect_pool", "translate"]

#: Seconds a call waits for a free pooled connection, or for PostgreSQL to answer a connect,
#: before the listener answers 451 (a sender retries; nothing was acknowledged).
POOL_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5
#: How long the pool keeps retrying one lost connection (after 1 s, then 2 s: psycopg_pool's
#: doubling backoff, capped by this) before it gives that connection up; the next caller that
#: finds no connection makes the pool grow again, with an immediate attempt. The default (5
#: minutes) let the backoff grow to 4, 8, 16 s during an outage, so the listeners kept
#: answering 451 for seconds after the database was back.
RECONNECT_WINDOW = 2.0

ConnectionPool = psycopg_pool.ConnectionPool


def connection_options(spool: SpoolConfig, application_name: str) -> dict[str, Any]:
    """libpq options added to ``[spool] url``.

    TLS: libpq's default ``sslmode=prefer`` falls back to plaintext without a word and never
    checks the certificate. A database reached over the network gets ``verify-full`` (TLS
    required, certificate and host name verified; ``sslrootcert`` in the URL names the CA)
    unless the URL chooses an ``sslmode`` itself. A loopback address or a unix socket
    directory keeps libpq's default: nothing crosses a network.
    """
    assert spool.url is not None
    options: dict[str, Any] = {"application_name": application_name,
                               "connect_timeout": CONNECT_TIMEOUT}
    parts = urllib.parse.urlsplit(spool.url)
    query = urllib.parse.parse_qs(parts.query)
    hosts = query.get("host", []) + ([parts.hostname] if parts.hostname else [])
    if "sslmode" not in query and any(not _local(host) for host in hosts):
        options["sslmode"] = "verify-full"
    if spool.password is not None:
        options["password"] = resolve_secret(spool.password, field="password")
    return options


def _local(host: str) -> bool:
    if host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def connect_pool(spool: SpoolConfig, *, max_size: int, application_name: str) -> ConnectionPool:
    """A pool of connections to ``[spool] url`` (the password from ``[spool] password``)."""
    assert spool.url is not None
    options = connection_options(spool, application_name)
    # One direct connection first: a pool would only say "no connection within 5 s" where
    # libpq knows why (refused, TLS required but not offered, password, no such database).
    try:
        psycopg.connect(spool.url, **options).close()
    except psycopg.Error as error:
        raise translate(error, "cannot connect to the queue database") from error
    pool = psycopg_pool.ConnectionPool(
        spool.url, kwargs=options, min_size=1, max_size=max_size, timeout=POOL_TIMEOUT,
        open=False, name=application_name, reconnect_timeout=RECONNECT_WINDOW,
        # A connection broken by a database restart is noticed here and replaced, so one
        # restart costs at most the calls already under way (answered 451), not a node restart.
        check=psycopg_pool.ConnectionPool.check_connection)
    pool.open(wait=False)
    return pool


@contextmanager
def transaction(pool: ConnectionPool, what: str, *, durable: bool = True
                ) -> Iterator[psycopg.Cursor[Any]]:
    """One transaction on a pooled connection; any database failure becomes a SpoolError.

    ``durable=False`` commits without waiting for the WAL flush (``synchronous_commit = off``
    for this transaction only): for writes whose loss in a database crash is already handled
    (see PostgresQueue's docstring), never for a store that a 250 depends on. A later durable
    commit flushes the WAL up to itself, so it also makes every earlier one durable.
    """
    try:
        with pool.connection() as connection, connection.transaction(), \
                connection.cursor() as cursor:
            if not durable:
                cursor.execute("SET LOCAL synchronous_commit = off")
            yield cursor
    except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
        raise translate(error, what) from error


def translate(error: BaseException, what: str) -> SpoolError:
    """A SpoolError for *error*; disk full (SQLSTATE 53100) is SpoolFull (the listener: 452)."""
    if isinstance(error, SpoolError):
        return error
    if isinstance(error, psycopg.errors.DiskFull):
        return SpoolFull(errno.ENOSPC, f"{what}: the queue database's disk is full")
    if isinstance(error, psycopg_pool.PoolTimeout):
        return SpoolError(f"{what}: the queue database did not answer within {POOL_TIMEOUT:.0f}"
                          " s")
    # psycopg's messages name host, port, user and database, never the password.
    detail = " ".join(str(error).split())
    return SpoolError(f"{what}: {detail or type(error).__name__}")
