"""SASL mechanisms for the lab servers.

A mechanism is an async callable ``(server, args) -> AuthResult``:

* ``server`` is the :class:`~cdomail.lab._server.LabSMTP` handling the
  session. Use ``await server.challenge_auth(challenge)`` to send a ``334``
  challenge (base64-encoded for you; pass ``encode_to_b64=False`` to send it
  raw) and receive the client's decoded answer, or ``aiosmtpd.smtp.MISSING``
  if the client cancelled with ``*`` or sent bad base64 (a reply has then
  already been sent: return ``AuthResult(success=False, handled=True)``).
  ``server.users`` is the lab's ``{name: password}`` mapping.
* ``args`` is the AUTH command split on spaces: ``["NTLM"]`` or
  ``["NTLM", "<initial-response>"]``.
* Return ``AuthResult(success=True, auth_data="who")`` on success (the string,
  or a ``LoginPassword``'s login, becomes ``authenticated_as``), or
  ``AuthResult(success=False, handled=False)`` to have ``535 5.7.8`` sent.

The lab redacts every line read during AUTH and the initial response, so a
mechanism never has to care about the transcript.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

if TYPE_CHECKING:
    from cdomail.lab._server import LabSMTP

__all__ = [
    "AuthMechanism",
    "BearerValidator",
    "check_login_password",
    "cram_md5",
    "identity_of",
    "xoauth2",
]

#: The type of a pluggable SASL mechanism (see the module docstring).
AuthMechanism = Callable[["LabSMTP", list[str]], Awaitable[AuthResult]]
#: Decides whether ``token`` is a valid bearer token for mailbox ``user``.
BearerValidator = Callable[[str, str], bool]


def check_login_password(users: Mapping[str, str], login: bytes, password: bytes) -> bool:
    """True when ``login``/``password`` match an entry of ``users`` (constant-time compare)."""
    try:
        name = login.decode("utf-8")
    except UnicodeDecodeError:
        return False
    expected = users.get(name)
    if expected is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), password)


def identity_of(auth_data: Any) -> str | None:
    """The user name a mechanism's ``AuthResult.auth_data`` stands for."""
    if auth_data is None:
        return None
    if isinstance(auth_data, LoginPassword):
        return auth_data.login.decode("utf-8", "replace")
    if isinstance(auth_data, bytes):
        return auth_data.decode("utf-8", "replace")
    return str(auth_data)


async def cram_md5(server: LabSMTP, args: list[str]) -> AuthResult:
    """CRAM-MD5 (RFC 2195) against the lab's users; an example of a pluggable mechanism."""
    if len(args) > 1:
        # RFC 2195 has no initial response.
        await server.push("501 5.5.2 CRAM-MD5 takes no initial response")
        return AuthResult(success=False, handled=True)
    challenge = f"<{secrets.randbelow(10**12)}.{secrets.token_hex(4)}@{server.hostname}>"
    answer = await server.challenge_auth(challenge)
    if answer is MISSING:
        return AuthResult(success=False, handled=True)
    assert isinstance(answer, bytes)
    login, _, digest = answer.rpartition(b" ")
    password = server.users.get(login.decode("utf-8", "replace"))
    if password is None:
        return AuthResult(success=False, handled=False)
    expected = hmac.new(password.encode("utf-8"), challenge.encode("ascii"), "md5").hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), digest.lower()):
        return AuthResult(success=False, handled=False)
    return AuthResult(success=True, auth_data=LoginPassword(login, b""))


def _xoauth2_fields(answer: bytes) -> tuple[str, str] | None:
    """``(user, token)`` from ``user=U^Aauth=Bearer T^A^A``, or None when malformed."""
    try:
        text = answer.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.endswith("\x01\x01"):
        return None
    fields = dict(part.partition("=")[::2] for part in text[:-2].split("\x01"))
    user, auth = fields.get("user", ""), fields.get("auth", "")
    scheme, _, token = auth.partition(" ")
    if not user or scheme.lower() != "bearer" or not token:
        return None
    return user, token


def xoauth2(validate: BearerValidator, *, google_errors: bool = False) -> AuthMechanism:
    """An XOAUTH2 mechanism accepting the bearer tokens ``validate`` approves.

    The client's answer is ``base64("user=" + mailbox + "\\x01auth=Bearer " + token
    + "\\x01\\x01")`` (as an initial response or after an empty ``334``). Success is
    235; a refused token gets ``535 5.7.3`` as Microsoft 365 answers, or, with
    ``google_errors``, first a ``334`` carrying a base64 JSON error, to which the
    client answers an empty line, then ``535 5.7.8`` as Gmail does.
    """

    async def mechanism(server: LabSMTP, args: list[str]) -> AuthResult:
        if len(args) > 1:
            try:
                answer: object = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Cannot decode the XOAUTH2 response")
                return AuthResult(success=False, handled=True)
        else:
            answer = await server.challenge_auth("", encode_to_b64=False)
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
        assert isinstance(answer, bytes)
        fields = _xoauth2_fields(answer)
        if fields is not None and validate(*fields):
            return AuthResult(success=True, auth_data=fields[0])
        if google_errors:
            error = json.dumps({"status": "400", "schemes": "Bearer",
                                "scope": "https://mail.google.com/"}).encode()
            await server.challenge_auth(base64.b64encode(error).decode("ascii"),
                                        encode_to_b64=False)
            await server.push("535 5.7.8 Username and Password not accepted")
        else:
            await server.push("535 5.7.3 Authentication unsuccessful")
        return AuthResult(success=False, handled=True)

    return mechanism
