"""Which SASL mechanism a session uses (RFC 4954 §4): the caller's, else strongest first."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import AuthenticationRefusedLocally
from ..protocol import (
    PREFERRED_MECHANISMS,
    Authenticator,
    Secret,
    XOAuth2,
    password_authenticator,
)


def choose_authenticator(
    advertised: Sequence[str],
    *,
    username: str | None,
    password: Secret | None,
    oauth2_token: Secret | None,
    preference: Sequence[str] | None,
    authenticator: Authenticator | None,
) -> Authenticator:
    """The authenticator for the mechanisms the server ``advertised``, or the local refusal
    that names what it offers and what we can use."""
    offers = ", ".join(advertised) or "no AUTH at all"
    if authenticator is not None:
        if authenticator.mechanism.upper() not in advertised:
            raise AuthenticationRefusedLocally(
                f"server does not offer AUTH {authenticator.mechanism} (it offers: {offers})")
        return authenticator
    assert username is not None
    if oauth2_token is not None:
        if "XOAUTH2" not in advertised:
            raise AuthenticationRefusedLocally(
                f"server does not offer AUTH XOAUTH2 (it offers: {offers})")
        return XOAuth2(username, oauth2_token)
    assert password is not None
    order = preference or PREFERRED_MECHANISMS
    for mechanism in order:
        if mechanism in advertised:
            return password_authenticator(mechanism, username, password)
    raise AuthenticationRefusedLocally(
        "credentials were given but the server offers no usable AUTH mechanism"
        f" (it offers: {offers}; we can use: {', '.join(order)})"
    )
