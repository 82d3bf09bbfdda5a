"""sendusing=2: send through :class:`cdomail.SMTPClient` and map its errors to CDO's HRESULTs.

The client gets CDO's behaviour from :func:`~cdomail.cdo.configuration.client_options`
(``tls="cdo"`` implements the port rule). Authentication is added here, faithfully: CDO sends
credentials over a plaintext link when ``smtpusessl`` is False, so that case is allowed -- with a
:class:`~cdomail.cdo.errors.CdoCompatibilityWarning` saying the credentials travel unencrypted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

from cdomail import errors as core
from cdomail.cdo import constants as c
from cdomail.cdo._secret import Secret, reveal
from cdomail.cdo.configuration import TransportSettings, client_options
from cdomail.cdo.errors import (
    CDO_E_AUTHENTICATION_FAILURE,
    CDO_E_CONNECTION_DROPPED,
    CDO_E_FAILED_TO_CONNECT,
    CDO_E_LOGON_FAILURE,
    CDO_E_RECIPIENTS_REJECTED,
    CDO_E_SENDER_REJECTED,
    CDO_E_SMTP_SEND_FAILED,
    CdoCompatibilityWarning,
    CdoError,
)
from cdomail.errors import printable
from cdomail.session import effective_tls_mode
from cdomail.tls import TLSMode

__all__ = [
    "STATUS_UNKNOWN_NOTE",
    "auth_options",
    "map_error",
    "notify_parameter",
    "partial_refusal",
    "send_via_port",
]

#: Verbs whose failure means the session was never established (CDO: "failed to connect").
_CONNECT_PHASE = frozenset({"", "GREETING", "EHLO", "HELO", "STARTTLS"})


def notify_parameter(dsn_options: int) -> str | None:
    """The RFC 3461 §4.1 ``NOTIFY=`` value for CDO's DSNOptions flags, or ``None`` (default)."""
    if dsn_options & c.cdoDSNNever:
        return "NOTIFY=NEVER"  # NEVER must stand alone (RFC 3461 §4.1)
    words = [
        word
        for flag, word in (
            (c.cdoDSNSuccess, "SUCCESS"),
            (c.cdoDSNFailure, "FAILURE"),
            (c.cdoDSNDelay, "DELAY"),
        )
        if dsn_options & flag
    ]
    return "NOTIFY=" + ",".join(words) if words else None


def auth_options(settings: TransportSettings) -> dict[str, Any]:
    """Client keyword arguments for smtpauthenticate (0 anonymous, 1 basic, 2 NTLM).

    Raises:
        CdoError: 0x80040217 when authentication is asked for without a user name.
    """
    if settings.authenticate == c.cdoAnonymous:
        return {}
    if settings.authenticate not in (c.cdoBasic, c.cdoNTLM):
        raise CdoError(
            CDO_E_LOGON_FAILURE,
            detail=f"smtpauthenticate {settings.authenticate} is not 0, 1 or 2",
        )
    if not settings.username:
        raise CdoError(
            CDO_E_LOGON_FAILURE, detail="smtpauthenticate is set but sendusername is empty"
        )
    options: dict[str, Any] = {}
    if settings.authenticate == c.cdoBasic:
        # CDO's basic authentication is AUTH LOGIN; PLAIN only when LOGIN is not offered.
        options.update(
            username=settings.username,
            password=settings.password or Secret(""),  # revealed only at the SASL step
            auth_mechanisms=("LOGIN", "PLAIN"),
        )
    else:
        from cdomail.cdo.ntlm import NTLMAuthenticator

        options["authenticator"] = NTLMAuthenticator(settings.username, reveal(settings.password))
    # The session layer's TLS policy decides whether the credentials travel in plaintext.
    if effective_tls_mode(settings.effective_tls_mode, settings.port) is TLSMode.NONE:
        warnings.warn(
            "smtpusessl is False, so CDO sends the user name and password over an unencrypted "
            "connection (as cdomail does here, to stay faithful). Set smtpusessl=True with port "
            "465 or 25, or urn:cdomail:configuration:tlsmode=starttls, to protect them.",
            CdoCompatibilityWarning,
            stacklevel=4,
        )
        options["allow_plaintext_auth"] = True
    return options


#: Appended to CDO's text when the connection failed after the end of the data.
STATUS_UNKNOWN_NOTE = (
    "The connection was lost after the whole message was sent and before the server's"
    " verdict: the server may have accepted the message. Check the recipient's mailbox or"
    " the server's log before sending it again, or it may arrive twice."
)


def _response(error: core.ReplyError | core.UnexpectedReply) -> str:
    enhanced = error.enhanced_status if isinstance(error, core.ReplyError) else None
    status = f"{enhanced} " if enhanced else ""
    text = printable(error.text, newlines=False).replace("\\x0a", " ")
    if status and text.startswith(status):
        status = ""
    return f"{error.code} {status}{text}"


def partial_refusal(result: Any) -> CdoError:
    """0x8004020F after some recipients were refused and the message went to the others.

    RFC 5321 §3.3 lets the client send the data once one recipient is accepted, and cdomail
    does; CDO's own text ("rejected one or more recipient addresses") would then hide that
    a retry delivers the message a second time to those who already have it. The
    description names them.
    """
    refused = ", ".join(result.refused)
    accepted = ", ".join(result.accepted)
    address, reply = next(iter(result.refused.items()))
    error = CdoError(
        CDO_E_RECIPIENTS_REJECTED,
        server_response=f"{reply.code} {reply.text}".strip(),
        detail=f"{address} was refused; the message went to {accepted}",
        note=(
            f"The message WAS delivered to: {accepted}. Refused: {refused}. Send it again"
            " only to the refused recipients, or the others receive it twice."
        ),
    )
    error.send_result = result
    return error


def map_error(exc: core.CdoMailError) -> CdoError:
    """The CdoError CDO raises for what the core reported (same HRESULT and text as CDO)."""
    detail = str(exc)
    if isinstance(exc, core.StatusUnknown):
        # RFC 5321 §4.5.3.2.6: a lost verdict is not a failure; CDO's "lost its connection"
        # alone would read as "not sent" and invite a duplicate.
        return CdoError(CDO_E_CONNECTION_DROPPED, detail=detail, note=STATUS_UNKNOWN_NOTE)
    if isinstance(exc, core.UnexpectedReply):
        return CdoError(
            CDO_E_SMTP_SEND_FAILED,
            server_response=_response(exc),
            transport_code=CDO_E_SMTP_SEND_FAILED.hresult,
            detail=detail,
        )
    if isinstance(exc, core.SenderRefused):
        return CdoError(CDO_E_SENDER_REJECTED, server_response=_response(exc), detail=detail)
    if isinstance(exc, core.RecipientsRefused):
        response = _response(exc.refused[0]) if exc.refused else ""
        return CdoError(CDO_E_RECIPIENTS_REJECTED, server_response=response, detail=detail)
    if isinstance(exc, core.RecipientRefused):
        return CdoError(CDO_E_RECIPIENTS_REJECTED, server_response=_response(exc), detail=detail)
    if isinstance(exc, core.AuthenticationFailed):
        return CdoError(
            CDO_E_AUTHENTICATION_FAILURE, server_response=_response(exc), detail=detail
        )
    if isinstance(exc, core.AuthenticationRefusedLocally):
        return CdoError(CDO_E_LOGON_FAILURE, detail=detail)
    if isinstance(exc, core.TLSError | core.ConnectError | core.ConnectTimeout):
        return CdoError(CDO_E_FAILED_TO_CONNECT, detail=detail)
    if isinstance(exc, core.GreetingRefused | core.HeloRefused | core.StartTLSRefused):
        return CdoError(CDO_E_FAILED_TO_CONNECT, detail=detail)
    if isinstance(exc, core.ServiceClosing) and exc.command.upper() in _CONNECT_PHASE:
        return CdoError(CDO_E_FAILED_TO_CONNECT, detail=detail)
    if isinstance(exc, core.ServerDisconnected):
        return CdoError(CDO_E_CONNECTION_DROPPED, detail=detail)
    if isinstance(exc, core.ReplyError):
        return CdoError(
            CDO_E_SMTP_SEND_FAILED,
            server_response=_response(exc),
            transport_code=CDO_E_SMTP_SEND_FAILED.hresult,
            detail=detail,
        )
    return CdoError(
        CDO_E_SMTP_SEND_FAILED,
        server_response="not available",
        transport_code=CDO_E_SMTP_SEND_FAILED.hresult,
        detail=detail,
    )


def send_via_port(
    settings: TransportSettings,
    envelope: Any,
    content: Callable[[], Iterator[bytes]],
    *,
    dsn_options: int = c.cdoDSNDefault,
) -> Any:
    """Connect, authenticate and send one message as CDO would; return the SendResult.

    ``DSNOptions`` becomes ``NOTIFY=...`` on every RCPT only when the server advertises DSN
    (RFC 3461 §4: the parameter is illegal otherwise).

    Raises:
        CdoError: the mapped failure, chaining the core's error.
        InputError: bad input found before anything was sent (not a CDO error).
    """
    from cdomail._sync.client import SMTPClient

    options = client_options(settings)
    options.update(auth_options(settings))
    notify = notify_parameter(dsn_options)
    try:
        with SMTPClient(**options) as client:
            rcpt_options: tuple[str, ...] = ()
            if notify is not None and client.extensions.has("DSN"):
                rcpt_options = (notify,)
            result = client.send(
                content(),
                sender=envelope.sender,
                recipients=envelope.recipients,
                rcpt_options=rcpt_options,
            )
    except core.InputError:
        raise
    except core.CdoMailError as exc:
        raise map_error(exc) from exc
    except OSError as exc:
        # The client turns network OSErrors into its own errors, so this one came from
        # reading the content: an attachment file or URL that vanished or failed.
        raise CdoError(
            CDO_E_SMTP_SEND_FAILED,
            server_response="not available",
            transport_code=CDO_E_SMTP_SEND_FAILED.hresult,
            detail=f"reading an attachment failed: {exc}",
        ) from exc
    if result.refused:
        # CDO refuses the whole send when any recipient is refused; the core already delivered
        # to the accepted ones, so say so rather than pretend nothing was sent.
        raise partial_refusal(result)
    return result
