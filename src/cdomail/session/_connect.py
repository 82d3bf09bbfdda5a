"""The connect plan: greeting, EHLO (HELO fallback), TLS policy, AUTH.

This is the one place that decides TLS for a client session: whether the connection
starts in TLS, whether STARTTLS is sent, what happens when it is missing or refused,
and whether credentials may travel. The drivers only perform the steps it yields.
"""

from __future__ import annotations

import time

from ..errors import (
    AuthenticationFailed,
    AuthenticationRefusedLocally,
    ConnectTimeout,
    GreetingRefused,
    HeloRefused,
    NotSMTPServer,
    ReadTimeout,
    RemoteProtocolError,
    ServiceClosing,
    StartTLSRefused,
    TLSRequired,
)
from ..protocol import ClientConnection, Command, Ehlo, Helo, Reply, StartTLS
from ..tls import TLSMode
from ._authenticate import sasl_steps
from ._config import ClientConfig
from ._steps import Close, Note, Open, Plan, Receive, Send, UpgradeTLS


class ConnectPlan:
    """Open a session for ``config``, saying ``ehlo_name``; ``connection`` is the
    protocol state the driver feeds with the bytes it reads."""

    def __init__(self, config: ClientConfig, ehlo_name: str) -> None:
        self.config = config
        self.ehlo_name = ehlo_name
        self.connection = ClientConnection(allow_pipelining=config.pipelining)

    def steps(self) -> Plan[None]:
        """The whole plan: performed in order, it leaves a session ready for MAIL FROM."""
        config = self.config
        implicit = config.effective_mode is TLSMode.IMPLICIT
        yield Note(f"connecting to {config.connect_host}:{config.connect_port}"
                   f" (tls={config.mode.value} -> {config.effective_mode.value})")
        yield Open(implicit_tls=implicit)
        if implicit:
            self.connection.start_tls_completed()
        yield from self._greeting()
        yield from self._ehlo()
        yield from self._tls_policy()
        if config.wants_auth:
            yield from self._authenticate()

    def _greeting(self) -> Plan[None]:
        config = self.config
        implicit = config.effective_mode is TLSMode.IMPLICIT
        started = time.monotonic()
        try:
            greeting = yield Receive("AUTO_GREETING" if config.mode is TLSMode.AUTO
                                     and not implicit else "CONNECT")
        except ReadTimeout:
            hint = ("" if implicit else
                    ": the port may expect implicit TLS, from the first byte (use tls='implicit'),"
                    " or it is not an SMTP server")
            raise ConnectTimeout(
                f"no greeting from {config.host}:{config.port} within"
                f" {time.monotonic() - started:.3g} s{hint}"
            ) from None
        except RemoteProtocolError as exc:
            raise NotSMTPServer(
                f"{config.host}:{config.port} did not greet in SMTP ({exc}):"
                " wrong port, or not a mail server"
            ) from exc
        assert greeting is not None
        if greeting.code != 220:
            yield Close(polite=True)
            raise GreetingRefused(greeting.code, greeting.text, command="greeting",
                                  enhanced_status=greeting.enhanced_status)

    def _ehlo(self) -> Plan[None]:
        reply = yield from self._exchange(Ehlo(self.ehlo_name))
        if reply.code == 250:
            return
        # RFC 5321 §4.1.4: fall back to HELO only where no ESMTP feature is needed: HELO
        # cannot do STARTTLS (RFC 3207 §4), so never while the policy still needs TLS.
        needs_tls = (self.config.effective_mode.requires_tls
                     and not self.connection.tls_active)
        if self.config.helo_fallback and reply.code in (500, 502, 504) and not needs_tls:
            reply = yield from self._exchange(Helo(self.ehlo_name))
            if reply.code == 250:
                return
        raise HeloRefused(reply.code, reply.text, command="EHLO",
                          enhanced_status=reply.enhanced_status)

    def _tls_policy(self) -> Plan[None]:
        conn, config = self.connection, self.config
        mode = config.effective_mode
        if conn.tls_active or mode is TLSMode.NONE:
            return
        if conn.extensions is None or not conn.extensions.has("STARTTLS"):
            if mode is TLSMode.OPPORTUNISTIC:
                yield Note("STARTTLS not offered: continuing in plaintext (opportunistic)")
                return
            yield Close(polite=True)
            raise TLSRequired(
                f"{config.host}:{config.port} does not offer STARTTLS, and tls="
                f"{config.mode.value} requires it; nothing was sent. If the server"
                " uses TLS from the first byte (usually port 465), use tls='implicit'."
            )
        reply = yield from self._exchange(StartTLS())
        if reply.code != 220:
            # RFC 3207 §4: a refused STARTTLS never falls back to plaintext.
            yield Close(polite=False)
            raise StartTLSRefused(reply.code, reply.text, command="STARTTLS",
                                  enhanced_status=reply.enhanced_status)
        yield UpgradeTLS(TLSMode.STARTTLS)
        conn.start_tls_completed()
        # RFC 3207 §4.2: forget the pre-TLS EHLO; ask again inside TLS.
        yield from self._ehlo()

    def _authenticate(self) -> Plan[None]:
        conn = self.connection
        # RFC 4954 §4 leaves plaintext mechanisms to policy: ours sends no credentials
        # in the clear unless the caller said so.
        if not conn.tls_active and not self.config.allow_plaintext_auth:
            yield Close(polite=True)
            raise AuthenticationRefusedLocally(
                "refusing to send credentials over an unencrypted connection; use a TLS mode"
                " (starttls, implicit) or pass allow_plaintext_auth=True"
            )
        advertised = conn.extensions.auth_mechanisms if conn.extensions else ()
        try:
            authenticator = self.config.choose_authenticator(advertised)
        except AuthenticationRefusedLocally:
            yield Close(polite=True)
            raise
        reply = yield from sasl_steps(authenticator, self._exchange)
        if reply.code != 235:
            raise AuthenticationFailed(reply.code, reply.text, command="AUTH",
                                       enhanced_status=reply.enhanced_status)

    def _exchange(self, command: Command) -> Plan[Reply]:
        """Send ``command`` and return its reply; a 421 ends the session (RFC 5321 §3.8)."""
        yield Send(command)
        reply = yield Receive(command.verb)
        assert reply is not None
        if reply.code == 421:
            yield Close(polite=False)
            raise ServiceClosing(reply.code, reply.text, command=command.verb,
                                 enhanced_status=reply.enhanced_status)
        return reply
