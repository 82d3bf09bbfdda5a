"""One OAuth2 token for the cluster: one request for many nodes, rotated refresh tokens shared."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg

from cdomail.lab import LabCertificates
from cdomail.relay.config import OAuth2Config, SpoolConfig
from cdomail.relay.pg.oauth2 import SharedTokenProvider
from cdomail.testing.token_endpoint import TokenEndpoint

from ._queues import open_node


def _settings(endpoint: TokenEndpoint, certs: LabCertificates, token_file: Path) -> OAuth2Config:
    return OAuth2Config(endpoint.url, "gmail-relay", None, "https://mail.google.com/",
                        f"file:{token_file}", certs.ca_path)


def test_nodes_asking_at_once_make_one_request(pg_spool_config: SpoolConfig,
                                               token_endpoint: TokenEndpoint,
                                               lab_certs: LabCertificates, tmp_path: Path) -> None:
    token_file = tmp_path / "refresh-token"
    token_file.write_text(token_endpoint.issue_refresh_token("gmail-relay"))
    token_endpoint.delay = 0.3  # a slow identity provider: every node asks meanwhile
    nodes = [open_node(pg_spool_config) for _ in range(3)]
    providers = [SharedTokenProvider(_settings(token_endpoint, lab_certs, token_file), n.pool)
                 for n in nodes]

    async def everyone() -> list[str]:
        return await asyncio.gather(*(p.token() for p in providers for _ in range(3)))

    tokens = asyncio.run(everyone())
    assert len(set(tokens)) == 1 and token_endpoint.requests == 1
    assert token_endpoint.validate("x", tokens[0])
    for node in nodes:
        node.close()


def test_the_rotated_refresh_token_is_the_clusters(pg_spool_config: SpoolConfig,
                                                   token_endpoint: TokenEndpoint,
                                                   lab_certs: LabCertificates,
                                                   tmp_path: Path) -> None:
    token_file = tmp_path / "refresh-token"
    first_refresh = token_endpoint.issue_refresh_token("gmail-relay")
    token_file.write_text(first_refresh)
    a, b = open_node(pg_spool_config), open_node(pg_spool_config)
    settings = _settings(token_endpoint, lab_certs, token_file)
    first = asyncio.run(SharedTokenProvider(settings, a.pool).token())
    (rotated,) = token_endpoint.valid_refresh_tokens  # the first one is spent now
    assert rotated != first_refresh
    assert pg_spool_config.url is not None
    with psycopg.connect(pg_spool_config.url) as connection:
        row = connection.execute("SELECT refresh_token, access_token FROM oauth2_tokens"
                                 ).fetchone()
        assert row == (rotated, first)  # committed together
        connection.execute("UPDATE oauth2_tokens SET refresh_at = 0")  # due for refresh
    # Node b never saw the rotation, and the file still holds the spent token: it must use
    # the database's refresh token, or the endpoint would answer invalid_grant.
    second = asyncio.run(SharedTokenProvider(settings, b.pool).token())
    assert second != first and token_endpoint.validate("x", second)
    assert token_endpoint.requests == 2
    assert token_endpoint.forms[1]["refresh_token"] == rotated
    a.close()
    b.close()


def test_a_refused_token_is_forgotten_for_every_node(pg_spool_config: SpoolConfig,
                                                     token_endpoint: TokenEndpoint,
                                                     lab_certs: LabCertificates,
                                                     tmp_path: Path) -> None:
    token_file = tmp_path / "refresh-token"
    token_file.write_text(token_endpoint.issue_refresh_token("gmail-relay"))
    a, b = open_node(pg_spool_config), open_node(pg_spool_config)
    settings = _settings(token_endpoint, lab_certs, token_file)
    provider_a = SharedTokenProvider(settings, a.pool)
    refused = asyncio.run(provider_a.token())
    provider_a.invalidate(refused)  # the upstream said 535 to it
    fresh = asyncio.run(SharedTokenProvider(settings, b.pool).token())
    assert fresh != refused and token_endpoint.requests == 2
    a.close()
    b.close()
