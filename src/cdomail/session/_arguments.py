"""Checks of the client's arguments: each bad value named before anything connects."""

from __future__ import annotations

from ..errors import ConfigurationError, LocalProtocolError
from ..message import check_address
from ..protocol import Secret, check_argument


def check_ehlo_name(name: str) -> None:
    """An EHLO name must be one argument of printable ASCII (RFC 5321 §4.1.1.1)."""
    try:
        check_argument(name, "EHLO name")
    except LocalProtocolError as exc:
        raise ConfigurationError(str(exc), field="local_hostname") from None
    if " " in name or not name.isascii():
        raise ConfigurationError(f"invalid EHLO name {name!r}", field="local_hostname")


def check_host(host: object) -> None:
    if not host or not isinstance(host, str):
        raise ConfigurationError("host is required", field="host")
    check_argument(host, "host")


def check_port(port: object) -> None:
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigurationError(f"port must be 1-65535, not {port!r}", field="port")


def check_time_limits(**limits: float | None) -> None:
    for name, value in limits.items():
        if value is not None and value <= 0:
            raise ConfigurationError(f"{name} must be positive", field=name)


def check_credentials(
    username: str | None, password: Secret | None, oauth2_token: Secret | None
) -> None:
    """A username goes with what authenticates it, and a secret with a username."""
    if password is not None and username is None:
        raise ConfigurationError("password given without username", field="username")
    if oauth2_token is not None and username is None:
        raise ConfigurationError("oauth2_token needs username", field="username")
    if username is not None and password is None and oauth2_token is None:
        raise ConfigurationError("username given without password or oauth2_token",
                                 field="password")


def check_username(username: str) -> None:
    """An address (RFC 5321 §4.1.2) when it has an @, else one command argument."""
    if "@" in username:
        check_address(username, "username")
    else:
        check_argument(username, "username")
