"""Client states and the table of which command may be sent in which state.

Rule (after h11's ``_state.py``): everything that decides whether a command is
legal lives here, as data, so it can be read, tested and drawn.

The state is the *sent* state: with PIPELINING (RFC 2920) the client runs ahead
of the server's replies, so "MAIL" means "MAIL has been written", not "MAIL was
accepted". Replies move the state only where the protocol forces it: the
greeting, EHLO, STARTTLS's 220, AUTH's 235, DATA's 354 and a 421.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from ._commands import (
    Auth,
    AuthResponse,
    Bdat,
    Command,
    Data,
    Ehlo,
    Helo,
    MailFrom,
    Noop,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
)


class ClientState(enum.Enum):
    """Where the client is in the SMTP conversation."""

    #: Connected; waiting for the 220 greeting (RFC 5321 §4.3.1).
    CONNECTING = "connecting"
    #: Greeted (or TLS just started): EHLO or HELO must come next.
    GREETED = "greeted"
    #: Session established, no mail transaction open.
    READY = "ready"
    #: STARTTLS sent; waiting for its reply.
    STARTTLS_REQUESTED = "starttls-requested"
    #: 220 to STARTTLS: the driver must run the TLS handshake, then call start_tls_completed().
    TLS_HANDSHAKE = "tls-handshake"
    #: Inside a SASL exchange (AUTH sent, 334 challenges answered).
    AUTHENTICATING = "authenticating"
    #: MAIL FROM sent.
    MAIL = "mail"
    #: At least one RCPT TO sent.
    RCPT = "rcpt"
    #: DATA sent, waiting for 354.
    DATA_REQUESTED = "data-requested"
    #: 354 received: message content may be written.
    CONTENT = "content"
    #: One or more non-final BDAT chunks sent (RFC 3030).
    BDAT = "bdat"
    #: QUIT sent.
    CLOSING = "closing"
    #: The connection is over (EOF, 421, QUIT answered); nothing more may be sent.
    CLOSED = "closed"

    # Members are singletons compared by identity, so identity hashing is exact; Enum's
    # own __hash__ is Python code, and the state is looked up in a table on every command.
    __hash__ = object.__hash__


_SESSION_OPEN = (ClientState.READY, ClientState.MAIL, ClientState.RCPT, ClientState.BDAT)

#: Command type -> states it may be sent in -> the state after sending it.
#: Bdat and EndOfData are handled by ClientConnection (their next state depends
#: on LAST / on the content), Quit is legal everywhere but CLOSED.
SEND_TRANSITIONS: Final[Mapping[type[Command], Mapping[ClientState, ClientState]]] = {
    Ehlo: {ClientState.GREETED: ClientState.GREETED, ClientState.READY: ClientState.GREETED},
    Helo: {ClientState.GREETED: ClientState.GREETED, ClientState.READY: ClientState.GREETED},
    StartTLS: {ClientState.READY: ClientState.STARTTLS_REQUESTED},
    Auth: {ClientState.READY: ClientState.AUTHENTICATING},
    AuthResponse: {ClientState.AUTHENTICATING: ClientState.AUTHENTICATING},
    MailFrom: {ClientState.READY: ClientState.MAIL},
    RcptTo: {ClientState.MAIL: ClientState.RCPT, ClientState.RCPT: ClientState.RCPT},
    Data: {ClientState.RCPT: ClientState.DATA_REQUESTED},
    Bdat: {ClientState.RCPT: ClientState.BDAT, ClientState.BDAT: ClientState.BDAT},
    Rset: {state: ClientState.READY for state in _SESSION_OPEN},
    Noop: {state: state for state in (*_SESSION_OPEN, ClientState.GREETED)},
    Quit: {state: ClientState.CLOSING for state in ClientState if state is not ClientState.CLOSED},
}
