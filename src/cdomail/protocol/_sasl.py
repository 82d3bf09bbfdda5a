"""SASL mechanisms as pure challenge/response objects (RFC 4954, RFC 4616).

No I/O here: the driver sends ``Auth(mechanism, initial_response)`` and, for
each 334 challenge, ``AuthResponse(respond(challenge))``. Responses are raw
bytes; the driver base64-encodes them. Add a mechanism (CDO's NTLM does) by
implementing :class:`Authenticator`.

Passwords and tokens stay :class:`~cdomail.protocol.Secret` objects until the moment a
response is built from them, and no local variable ever holds them revealed: a traceback
printed with its locals shows ``Secret('***')`` (issue: no secret anywhere).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Generator
from typing import Protocol

from ..errors import CdoMailError, LocalProtocolError, RemoteProtocolError
from ._commands import Auth, AuthResponse, Command
from ._reply import Reply
from ._secret import Secret

#: smtplib's _MAXCHALLENGE: a server that keeps challenging is stalling or probing.
MAX_CHALLENGES = 5


class Authenticator(Protocol):
    """A SASL client mechanism."""

    #: The mechanism name as advertised in EHLO (upper case).
    mechanism: str

    def initial_response(self) -> bytes | None:
        """The initial response sent with AUTH, or ``None`` to wait for a challenge."""

    def respond(self, challenge: bytes) -> bytes:
        """Answer a decoded 334 challenge."""


class Plain:
    """PLAIN (RFC 4616): authzid NUL authcid NUL password, sent at once."""

    mechanism = "PLAIN"

    def __init__(self, username: str, password: str | Secret) -> None:
        self._username = username
        self._password = Secret(password)

    def initial_response(self) -> bytes | None:
        return b"\0" + self._username.encode() + b"\0" + self._password.reveal().encode()

    def respond(self, challenge: bytes) -> bytes:
        raise LocalProtocolError("PLAIN expects no challenge after the initial response")

    def __repr__(self) -> str:
        return f"Plain(username={self._username!r}, password=***)"


class Login:
    """LOGIN (draft-murchison-sasl-login): user name, then password, each on request."""

    mechanism = "LOGIN"

    def __init__(self, username: str, password: str | Secret) -> None:
        self._answers: list[str | Secret] = [username, Secret(password)]
        self._username = username

    def initial_response(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes:
        if not self._answers:
            raise LocalProtocolError("LOGIN server asked for more than user name and password")
        answer = self._answers.pop(0)
        return (answer.reveal() if isinstance(answer, Secret) else answer).encode()

    def __repr__(self) -> str:
        return f"Login(username={self._username!r}, password=***)"


class CramMD5:
    """CRAM-MD5 (RFC 2195): ``user HMAC-MD5(password, challenge)`` in hex."""

    mechanism = "CRAM-MD5"

    def __init__(self, username: str, password: str | Secret) -> None:
        self._username = username
        self._password = Secret(password)
        self._answered = False

    def initial_response(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes:
        if self._answered:
            raise LocalProtocolError("CRAM-MD5 server sent a second challenge")
        if not challenge:
            raise LocalProtocolError("CRAM-MD5 challenge is empty")
        self._answered = True
        digest = hmac.new(self._password.reveal().encode(), challenge, hashlib.md5)
        return f"{self._username} {digest.hexdigest()}".encode()

    def __repr__(self) -> str:
        return f"CramMD5(username={self._username!r}, password=***)"


class XOAuth2:
    """XOAUTH2 (Google/Microsoft): a bearer token given by the caller.

    On failure the server sends a 334 with a JSON error; the client answers with
    an empty line to receive the final 5xx.
    """

    mechanism = "XOAUTH2"

    def __init__(self, username: str, token: str | Secret) -> None:
        self._username = username
        self._token = Secret(token)

    def initial_response(self) -> bytes | None:
        return f"user={self._username}\x01auth=Bearer {self._token.reveal()}\x01\x01".encode()

    def respond(self, challenge: bytes) -> bytes:
        return b""

    def __repr__(self) -> str:
        return f"XOAuth2(username={self._username!r}, token=***)"


#: Strongest first: what the client picks when the caller names no order.
#: PLAIN before LOGIN because it costs one round trip less; both need TLS.
PREFERRED_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")


def password_authenticator(
    mechanism: str, username: str, password: str | Secret
) -> Authenticator:
    """Build the authenticator for a user-name/password mechanism."""
    factories: dict[str, type[Plain] | type[Login] | type[CramMD5]] = {
        "PLAIN": Plain,
        "LOGIN": Login,
        "CRAM-MD5": CramMD5,
    }
    try:
        return factories[mechanism.upper()](username, password)
    except KeyError:
        raise LocalProtocolError(f"unsupported SASL mechanism: {mechanism}") from None


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def sasl_dialogue(authenticator: Authenticator) -> Generator[Command, Reply, Reply]:
    """The AUTH exchange as a generator, for every driver (RFC 4954 §4).

    It yields each command to send; the driver sends it and passes the reply back with
    ``.send(reply)``; the generator returns the final (non-334) reply. A challenge that
    is not base64, one the mechanism cannot answer, or one too many is answered with
    ``*`` (cancel) first, then raised.
    """
    reply = yield Auth(authenticator.mechanism, _b64(authenticator.initial_response()))
    rounds = 0
    while reply.code == 334:
        rounds += 1
        failure: CdoMailError | None = None
        answer = b""
        if rounds > MAX_CHALLENGES:
            failure = RemoteProtocolError(f"more than {MAX_CHALLENGES} AUTH challenges")
        else:
            try:
                answer = authenticator.respond(
                    base64.b64decode(reply.text.strip(), validate=True))
            except (binascii.Error, ValueError):
                failure = RemoteProtocolError("AUTH challenge is not valid base64")
            except CdoMailError as exc:
                failure = exc
        if failure is not None:
            yield AuthResponse("*")
            raise failure
        reply = yield AuthResponse(_b64(answer) or "")
    return reply
