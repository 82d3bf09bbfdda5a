"""The connect plan with an observe policy, for the probe: record, do not enforce.

A client session (``_connect``) refuses to go on when the server does not meet its TLS
policy; the probe must instead see what the server does in every state, including the
ones a client refuses to enter (plaintext MAIL FROM, a refused STARTTLS). So this plan
never raises for a reply: it records the greeting, the extensions before and inside
TLS, the answer to STARTTLS and to ``MAIL FROM:<>``, and the outcome of AUTH. One rule
stays enforced, here as in the client: credentials never travel without TLS.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LocalProtocolError, ReadTimeout, RemoteProtocolError, ServerDisconnected
from ..protocol import (
    PREFERRED_MECHANISMS,
    ClientConnection,
    Command,
    Ehlo,
    Extensions,
    Helo,
    MailFrom,
    Reply,
    Rset,
    Secret,
    StartTLS,
    password_authenticator,
)
from ..tls import TLSMode
from ._authenticate import sasl_steps
from ._steps import Plan, Receive, Send, UpgradeTLS

#: A failure while waiting for the greeting that says what the port is (silent,
#: closed, not SMTP) rather than breaking the observation off.
GreetingFailure = ReadTimeout | ServerDisconnected | RemoteProtocolError


@dataclass
class Observation:
    """What one connection showed; fields stay ``None`` for what was not reached."""

    greeting: Reply | None = None
    greeting_failure: GreetingFailure | None = None
    extensions_before_tls: Extensions | None = None
    mail_before_tls: Reply | None = None
    starttls_refused: Reply | None = None
    extensions_in_tls: Extensions | None = None
    #: ``(status, detail)``: status "ok", "failed", "not-offered" or "skipped".
    login: tuple[str, str] | None = None


class ObservePlan:
    """One probe connection after it is open (the probe opens it itself: it records the
    TCP and implicit-TLS facts of each attempt)."""

    def __init__(
        self,
        ehlo_name: str,
        *,
        implicit_tls: bool,
        check_required: bool = False,
        credentials: tuple[str, Secret] | None = None,
        certificate_failed: bool = False,
    ) -> None:
        self.ehlo_name = ehlo_name
        self.check_required = check_required
        self.credentials = credentials
        self.certificate_failed = certificate_failed
        self.connection = ClientConnection(allow_pipelining=False)
        if implicit_tls:
            self.connection.start_tls_completed()
        #: Filled in as the plan goes: complete up to where it stopped, even after an error.
        self.seen = Observation()

    def steps(self) -> Plan[Observation]:
        """Greeting, EHLO, then (in plaintext) MAIL FROM:<> + RSET when asked and STARTTLS
        when offered; inside TLS, EHLO again and AUTH when credentials were given."""
        seen = self.seen
        if not (yield from self._greeting()):
            return seen
        if not self.connection.tls_active:
            seen.extensions_before_tls = yield from self._ehlo()
            if self.check_required:
                yield from self._mail_before_tls()
            if not seen.extensions_before_tls.has("STARTTLS"):
                return seen
            reply = yield from self._exchange(StartTLS())
            if reply.code != 220:
                seen.starttls_refused = reply
                return seen
            yield UpgradeTLS(TLSMode.STARTTLS)
            self.connection.start_tls_completed()
        # RFC 3207 §4.2: inside TLS the pre-TLS EHLO answer is forgotten; ask again.
        seen.extensions_in_tls = yield from self._ehlo()
        if self.credentials is not None:
            seen.login = yield from self._login(*self.credentials)
        return seen

    def _greeting(self) -> Plan[bool]:
        """Read the greeting; True when it is an SMTP 220 (RFC 5321 §4.2)."""
        try:
            reply = yield Receive("CONNECT")
        except (ReadTimeout, ServerDisconnected, RemoteProtocolError) as exc:
            self.seen.greeting_failure = exc
            return False
        assert reply is not None
        self.seen.greeting = reply
        return reply.code == 220

    def _ehlo(self) -> Plan[Extensions]:
        reply = yield from self._exchange(Ehlo(self.ehlo_name))
        extensions = self.connection.extensions
        if reply.code != 250 or extensions is None:
            # RFC 5321 §4.1.4: an old server may know only HELO; it then offers no extension.
            yield from self._exchange(Helo(self.ehlo_name))
            extensions = Extensions()
        return extensions

    def _mail_before_tls(self) -> Plan[None]:
        # The null reverse-path (RFC 5321 §4.5.5) names nobody; RSET ends the transaction
        # before any RCPT, so no mail can result from this.
        self.seen.mail_before_tls = yield from self._exchange(MailFrom(""))
        yield from self._exchange(Rset())

    def _login(self, username: str, password: Secret) -> Plan[tuple[str, str]]:
        if self.certificate_failed:
            # An unverified certificate may be a man in the middle: keep the password.
            return "skipped", "the certificate failed verification; credentials kept"
        if not self.connection.tls_active:
            return "skipped", "never over plaintext"
        extensions = self.connection.extensions
        advertised = extensions.auth_mechanisms if extensions else ()
        usable = [m for m in PREFERRED_MECHANISMS if m in advertised]
        if not usable:
            shown = " ".join(advertised) or "none"
            return "not-offered", f"no usable AUTH mechanism (offered: {shown})"
        mechanism = usable[0]
        authenticator = password_authenticator(mechanism, username, password)
        try:
            reply = yield from sasl_steps(authenticator, self._exchange)
        except (RemoteProtocolError, LocalProtocolError) as exc:
            return "failed", f"AUTH {mechanism} exchange broke off: {exc}"
        if reply.code == 235:
            return "ok", f"AUTH {mechanism} accepted"
        return "failed", f"AUTH {mechanism} refused: {reply.code} {reply.text}"

    def _exchange(self, command: Command) -> Plan[Reply]:
        """Send ``command`` and return its reply, whatever it is (observed, not judged)."""
        yield Send(command)
        reply = yield Receive(command.verb)
        assert reply is not None
        return reply
