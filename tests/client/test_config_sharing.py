"""Clients built with the same arguments share one immutable ClientConfig (a one-shot send or a
CDO Send builds one per message); arguments are still checked every time, and a config with a
secret, an authenticator or the caller's SSL context is never shared."""

from __future__ import annotations

import inspect
import ssl

import pytest

from cdomail import ConfigurationError, SMTPClient
from cdomail.session import ClientConfig


def test_same_arguments_share_one_config() -> None:
    first = ClientConfig.build("mail.example.com", 2525, tls="none", connect_timeout=5)
    again = ClientConfig.build("mail.example.com", 2525, connect_timeout=5, tls="none")
    assert again is first
    assert SMTPClient("mail.example.com", 2525, tls="none", connect_timeout=5).config is first


def test_different_arguments_get_their_own_config() -> None:
    base = ClientConfig.build("mail.example.com", 2525, tls="none")
    other_port = ClientConfig.build("mail.example.com", 2526, tls="none")
    other_mode = ClientConfig.build("mail.example.com", 2525, tls="starttls")
    assert base is not other_port and other_port.port == 2526
    assert base is not other_mode and other_mode.mode.value == "starttls"


def test_an_equal_value_of_another_type_is_still_checked() -> None:
    ClientConfig.build("mail.example.com", 25, tls="none")
    with pytest.raises(ConfigurationError, match=r"port must be 1-65535, not 25\.0"):
        ClientConfig.build("mail.example.com", 25.0, tls="none")  # type: ignore[arg-type]


def test_bad_arguments_raise_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="connect_timeout must be positive"):
            ClientConfig.build("mail.example.com", 25, tls="none", connect_timeout=0)


@pytest.mark.parametrize(
    "options",
    [
        {"username": "user", "password": "secret"},
        {"ssl_context": ssl.create_default_context()},
        {"auth_mechanisms": ["PLAIN"]},  # unhashable: built each time, never an error
    ],
)
def test_configs_with_secrets_or_objects_are_never_shared(options: dict[str, object]) -> None:
    first = ClientConfig.build("mail.example.com", 587, **options)  # type: ignore[arg-type]
    second = ClientConfig.build("mail.example.com", 587, **options)  # type: ignore[arg-type]
    assert first is not second
    assert first == second


def test_build_keeps_its_documented_keywords() -> None:
    # SMTPClient's docstring sends readers to ClientConfig.build for every keyword.
    parameters = inspect.signature(ClientConfig.build).parameters
    assert {"tls", "cafile", "fingerprint", "connect_timeout"} <= set(parameters)
    assert ClientConfig.build.__doc__ is not None and "SMTPClient" in ClientConfig.build.__doc__
