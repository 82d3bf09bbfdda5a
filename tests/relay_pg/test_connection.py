"""How the queue connects: TLS never silently dropped over a network, errors without secrets."""

from __future__ import annotations

import pytest

from cdomail.relay.config import SpoolConfig
from cdomail.relay.pg import PostgresQueue
from cdomail.relay.pg._db import connection_options
from cdomail.relay.spool import SpoolError

from .cluster import PrivateCluster


@pytest.mark.parametrize(("url", "sslmode"), [
    ("postgresql://relay@db.corp.example/mail", "verify-full"),
    ("postgresql://relay@10.1.2.3:5432/mail", "verify-full"),
    ("postgresql://relay@db.corp.example/mail?sslmode=disable", None),  # the URL's own choice
    ("postgresql://relay@127.0.0.1/mail", None),
    ("postgresql://relay@[::1]/mail", None),
    ("postgresql://relay@localhost/mail", None),
    ("postgresql:///mail?host=/run/postgresql", None),
    ("postgresql:///mail", None),
])
def test_a_database_over_the_network_gets_verified_tls(url: str, sslmode: str | None) -> None:
    assert connection_options(SpoolConfig(url=url), "test").get("sslmode") == sslmode


def test_required_tls_is_not_dropped_when_the_server_has_none(pg_cluster: PrivateCluster
                                                              ) -> None:
    with pytest.raises(SpoolError, match="SSL"):
        PostgresQueue.open(SpoolConfig(url=pg_cluster.url() + "?sslmode=require"))


def test_a_connection_error_does_not_show_the_password(pg_cluster: PrivateCluster,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_DB_PASSWORD", "correct-horse-battery")
    config = SpoolConfig(url="postgresql://cdomail@127.0.0.1:1/postgres",
                         password="env:RELAY_DB_PASSWORD")
    with pytest.raises(SpoolError) as raised:
        PostgresQueue.open(config)
    assert "correct-horse-battery" not in str(raised.value)
    assert "correct-horse-battery" not in repr(config)
