"""NTLM for ``smtpauthenticate=2`` (cdoNTLM), client and lab server, through pyspnego.

The client side is an :class:`~cdomail.protocol._sasl.Authenticator`: ``AUTH NTLM <type 1>``,
then the server's type 2 challenge is answered with the type 3 message (MS-SMTPNTLM §3.1.5).
The server side is a lab SASL mechanism that really verifies the type 3 message against the
NTLM user file named by the ``NTLM_USER_FILE`` environment variable (pyspnego's credential
store; lines ``DOMAIN:USER:PASSWORD``), so tests prove the exchange, not just its shape.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cdomail._extras import require

require("ntlm", "spnego", part="NTLM authentication (cdoNTLM)")

import spnego  # noqa: E402

from cdomail.errors import LocalProtocolError  # noqa: E402

if TYPE_CHECKING:
    from aiosmtpd.smtp import AuthResult

    from cdomail.lab import LabSMTP

__all__ = ["NTLMAuthenticator", "lab_ntlm_mechanism", "write_ntlm_user_file"]


class NTLMAuthenticator:
    """SASL NTLM client (what CDO does with cdoNTLM), using pyspnego's pure-Python NTLM.

    ``username`` may be ``DOMAIN\\user`` or ``user@domain``.
    """

    mechanism = "NTLM"

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._context = spnego.client(username, password, service="SMTP", protocol="ntlm")

    def initial_response(self) -> bytes | None:
        """The type 1 (negotiate) message, sent with ``AUTH NTLM``."""
        token = self._context.step()
        if not token:
            raise LocalProtocolError("NTLM produced no negotiate message")
        return bytes(token)

    def respond(self, challenge: bytes) -> bytes:
        """Answer the type 2 (challenge) message with the type 3 (authenticate) message."""
        if self._context.complete:
            raise LocalProtocolError("NTLM server sent a challenge after the exchange ended")
        try:
            token = self._context.step(challenge)
        except spnego.exceptions.SpnegoError as exc:
            raise LocalProtocolError(f"the server's NTLM challenge is invalid: {exc}") from None
        return bytes(token or b"")

    def __repr__(self) -> str:
        return f"NTLMAuthenticator(username={self._username!r}, password=***)"


def write_ntlm_user_file(path: str | os.PathLike[str], users: Mapping[str, str]) -> str:
    """Write a pyspnego credential store (``DOMAIN:USER:PASSWORD`` lines) and return its path.

    A key ``"DOMAIN\\\\user"`` gives that domain; a bare ``"user"`` has an empty domain.
    """
    lines = []
    for name, password in users.items():
        domain, _, user = name.rpartition("\\")
        if any(ch in f"{name}{password}" for ch in "\r\n"):
            raise ValueError("NTLM user names and passwords cannot contain line breaks")
        lines.append(f"{domain}:{user}:{password}\n")
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return os.fspath(path)


async def lab_ntlm_mechanism(server: LabSMTP, args: list[str]) -> AuthResult:
    """A lab AUTH mechanism that verifies NTLM against ``$NTLM_USER_FILE``.

    Pass it as ``Lab(auth_mechanisms={"NTLM": lab_ntlm_mechanism})``.
    """
    import base64
    import binascii

    from aiosmtpd.smtp import MISSING, AuthResult

    context: Any = spnego.server(service="SMTP", protocol="ntlm")
    if len(args) > 1:
        try:
            negotiate = base64.b64decode(args[1], validate=True)
        except binascii.Error:
            await server.push("501 5.5.2 Can't decode base64")
            return AuthResult(success=False, handled=True)
    else:
        answer = await server.challenge_auth("", encode_to_b64=False)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        negotiate = bytes(answer)
    try:
        challenge = context.step(negotiate)
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        context.step(bytes(answer))
    except spnego.exceptions.SpnegoError:
        return AuthResult(success=False, handled=False)
    if not context.complete:
        return AuthResult(success=False, handled=False)
    return AuthResult(success=True, auth_data=str(context.client_principal or ""))
