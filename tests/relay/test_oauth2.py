"""TokenProvider against a real HTTPS token endpoint on loopback."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from cdomail.errors import ConfigurationError
from cdomail.lab import LabCertificates
from cdomail.relay.config import OAuth2Config
from cdomail.relay.oauth2 import (
    CredentialsRejected,
    TokenProvider,
    TokenUnavailable,
    save_atomically,
)
from cdomail.testing.token_endpoint import TokenEndpoint

SECRET = "client-secret-value-7f3a"


def Settings(token_url: str, *, client_id: str = "relay", client_secret: str | None = None,
             scope: str = "https://outlook.office365.com/.default",
             refresh_token: str | None = None, cafile: str | None = None) -> OAuth2Config:
    return OAuth2Config(token_url, client_id, client_secret, scope, refresh_token,
                        Path(cafile) if cafile else None)


class FakeTime:
    """Wall clock the test moves by hand (token expiry without waiting)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def client_credentials(endpoint: TokenEndpoint, lab_certs: LabCertificates,
                       monkeypatch: pytest.MonkeyPatch) -> OAuth2Config:
    endpoint.add_client("relay", SECRET)
    monkeypatch.setenv("RELAY_CLIENT_SECRET", SECRET)
    return Settings(endpoint.url, client_secret="env:RELAY_CLIENT_SECRET",
                    cafile=str(lab_certs.ca_path))


def test_client_credentials_token_is_cached_until_shortly_before_expiry(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_endpoint.lifetime = 600
    clock = FakeTime()
    provider = TokenProvider(client_credentials(token_endpoint, lab_certs, monkeypatch),
                             clock=clock, refresh_margin=60)

    async def scenario() -> list[str]:
        first = await provider.token()
        clock.now += 500  # still 100 s left: cached
        second = await provider.token()
        clock.now += 50  # 50 s left, inside the margin: refreshed
        third = await provider.token()
        return [first, second, third]

    first, second, third = asyncio.run(scenario())
    assert first == second != third
    assert token_endpoint.requests == 2
    assert token_endpoint.validate("relay", third)
    form = token_endpoint.forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "https://outlook.office365.com/.default"
    assert form["client_secret"] == SECRET
    assert SECRET not in repr(provider) and third not in repr(provider.cached)


def test_one_request_for_many_concurrent_workers(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_endpoint.delay = 0.3  # slow identity provider: every worker asks meanwhile
    provider = TokenProvider(client_credentials(token_endpoint, lab_certs, monkeypatch))

    async def scenario() -> list[str]:
        return await asyncio.gather(*(provider.token() for _ in range(16)))

    tokens = asyncio.run(scenario())
    assert len(set(tokens)) == 1
    assert token_endpoint.requests == 1


def test_rotated_refresh_token_is_saved_atomically_before_use(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, tmp_path: Path
) -> None:
    token_endpoint.add_client("gmail-relay")
    token_file = tmp_path / "refresh-token"
    token_file.write_text(token_endpoint.issue_refresh_token("gmail-relay") + "\n")
    clock = FakeTime()
    provider = TokenProvider(
        Settings(token_endpoint.url, client_id="gmail-relay", scope="https://mail.google.com/",
                 refresh_token=f"file:{token_file}", cafile=str(lab_certs.ca_path)),
        clock=clock,
    )
    async def scenario() -> tuple[str, str]:
        first = await provider.token()
        clock.now += 10_000  # expired: refresh with the rotated token
        return first, await provider.token()

    first, second = asyncio.run(scenario())
    assert first != second and token_endpoint.requests == 2
    # The file holds the newest refresh token, the only one the endpoint still accepts.
    on_disk = token_file.read_text().strip()
    assert token_endpoint.valid_refresh_tokens == [on_disk]
    # The second request used the first rotation (read back from the file).
    assert token_endpoint.forms[1]["refresh_token"] != token_endpoint.forms[0]["refresh_token"]
    assert token_endpoint.validate("gmail-relay", second)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["refresh-token"]  # no temporary left


def test_access_token_is_not_used_when_the_rotated_refresh_token_cannot_be_saved(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_endpoint.add_client("gmail-relay")
    token_file = tmp_path / "refresh-token"
    token_file.write_text(token_endpoint.issue_refresh_token("gmail-relay"))
    provider = TokenProvider(Settings(token_endpoint.url, client_id="gmail-relay",
                                      refresh_token=f"file:{token_file}",
                                      cafile=str(lab_certs.ca_path)))

    def full_disk(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(CredentialsRejected, match="could not save the rotated refresh token"):
        asyncio.run(provider.token())
    assert provider.cached is None  # the access token was never handed out
    assert [p.name for p in tmp_path.iterdir()] == ["refresh-token"]


def test_save_atomically_keeps_the_old_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "token"
    target.write_text("old\n")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        save_atomically(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["token"]


@pytest.mark.parametrize("error", ["invalid_grant", "invalid_client"])
def test_refused_credentials_raise_credentials_rejected(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, monkeypatch: pytest.MonkeyPatch,
    error: str,
) -> None:
    provider = TokenProvider(client_credentials(token_endpoint, lab_certs, monkeypatch))
    token_endpoint.fail_next(400, error)
    with pytest.raises(CredentialsRejected) as caught:
        asyncio.run(provider.token())
    assert caught.value.error == error
    assert "held" in str(caught.value) and SECRET not in str(caught.value)


def test_wrong_client_secret_is_invalid_client(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = client_credentials(token_endpoint, lab_certs, monkeypatch)
    monkeypatch.setenv("RELAY_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(CredentialsRejected) as caught:
        asyncio.run(TokenProvider(settings).token())
    assert caught.value.error == "invalid_client"
    assert "not-the-secret" not in str(caught.value)


@pytest.mark.parametrize(("status", "retry_after"), [(429, 7), (503, None), (500, None)])
def test_busy_or_failing_endpoint_means_retry_later_then_recovers(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, monkeypatch: pytest.MonkeyPatch,
    status: int, retry_after: int | None,
) -> None:
    provider = TokenProvider(client_credentials(token_endpoint, lab_certs, monkeypatch))
    token_endpoint.fail_next(status, retry_after=retry_after)
    with pytest.raises(TokenUnavailable) as caught:
        asyncio.run(provider.token())
    assert caught.value.retry_after == retry_after
    assert token_endpoint.validate("relay", asyncio.run(provider.token()))


def test_slow_endpoint_times_out_as_unavailable(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_endpoint.delay = 1.0
    provider = TokenProvider(client_credentials(token_endpoint, lab_certs, monkeypatch),
                             timeout=0.2)
    with pytest.raises(TokenUnavailable, match="unreachable"):
        asyncio.run(provider.token())


def test_endpoint_certificate_must_verify(
    token_endpoint: TokenEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token_endpoint.add_client("relay", SECRET)
    monkeypatch.setenv("RELAY_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "empty.pem"))  # trusts nothing
    (tmp_path / "empty.pem").write_text("")
    provider = TokenProvider(Settings(token_endpoint.url, client_secret="env:RELAY_CLIENT_SECRET"))
    with pytest.raises(TokenUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(provider.token())
    assert token_endpoint.requests == 0  # the secret never left


def test_ssl_cert_file_is_honoured(
    token_endpoint: TokenEndpoint, lab_certs: LabCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_endpoint.add_client("relay", SECRET)
    monkeypatch.setenv("RELAY_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("SSL_CERT_FILE", str(lab_certs.ca_path))
    provider = TokenProvider(Settings(token_endpoint.url, client_secret="env:RELAY_CLIENT_SECRET"))
    assert token_endpoint.validate("relay", asyncio.run(provider.token()))


def test_plain_http_token_url_is_refused_before_any_request() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        TokenProvider(Settings("http://127.0.0.1:9/token", client_secret="env:X"))
