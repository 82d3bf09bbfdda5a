"""The lab: local SMTP servers for every TLS configuration, with a private CA.

``Lab`` runs aiosmtpd servers in a background thread (aiosmtpd ``Controller``
style), one listener per mode:

========================  ====================================================
``plain``                 no STARTTLS offered
``starttls``              STARTTLS offered, optional
``starttls-required``     ``530 5.7.0`` to MAIL/AUTH/... before STARTTLS (RFC 3207 §4)
``smtps``                 implicit TLS from the first byte
========================  ====================================================

Every message is kept (Maildir + :class:`StoredMessage` in memory) with
whether TLS was active at MAIL time, and every session has a redacted
transcript (:class:`SessionRecord`), so a test can assert from the server's
side that nothing secret ever crossed in plaintext::

    with Lab(users={"user": "secret"}) as lab:
        ...  # send with any client to lab.host, lab.port("starttls-required")
        assert lab.messages[0].encrypted
        assert "MAIL" not in lab.sessions[0].plaintext_commands()

Adding a SASL mechanism (e.g. NTLM for CDO tests)
-------------------------------------------------
Pass ``auth_mechanisms={"NTLM": my_mechanism}``, where ``my_mechanism`` is an
``async def my_mechanism(server, args) -> AuthResult``. ``args`` is the AUTH
command split on spaces (``["NTLM"]`` or ``["NTLM", initial_response]``);
``await server.challenge_auth(challenge)`` sends ``334 <base64(challenge)>``
and returns the client's decoded answer (or ``MISSING`` when it cancelled,
a reply having then been sent: return ``AuthResult(success=False,
handled=True)``). ``server.users`` holds the configured users. Return
``AuthResult(success=True, auth_data="DOMAIN\\\\user")`` to log the client in;
``AuthResult(success=False, handled=False)`` sends ``535 5.7.8``. The lab
redacts every line of the exchange; :func:`cram_md5` is a worked example.
``auth_mechanisms={"XOAUTH2": xoauth2(validate)}`` accepts the bearer tokens
``validate(user, token)`` approves (the relay tests pair it with a local
OAuth2 token endpoint, :mod:`cdomail.testing.token_endpoint`).
"""

from __future__ import annotations

from cdomail._extras import require

# Before anything imports aiosmtpd: without the extra, one line saying which to install.
require("lab", "aiosmtpd", "trustme", "cryptography")

from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword  # noqa: E402

from cdomail.lab._auth import AuthMechanism, BearerValidator, cram_md5, xoauth2  # noqa: E402
from cdomail.lab._ca import LabCertificates  # noqa: E402
from cdomail.lab._lab import DEFAULT_PORTS, Lab  # noqa: E402
from cdomail.lab._records import SessionRecord, StoredMessage, TranscriptLine  # noqa: E402
from cdomail.lab._server import LISTENER_MODES, LabSMTP, ListenerMode  # noqa: E402

__all__ = [
    "DEFAULT_PORTS",
    "LISTENER_MODES",
    "MISSING",
    "AuthMechanism",
    "AuthResult",
    "BearerValidator",
    "Lab",
    "LabCertificates",
    "LabSMTP",
    "ListenerMode",
    "LoginPassword",
    "SessionRecord",
    "StoredMessage",
    "TranscriptLine",
    "cram_md5",
    "xoauth2",
]
