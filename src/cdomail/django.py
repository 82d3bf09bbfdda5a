"""A Django email backend that says whether each message travelled encrypted.

::

    # settings.py
    EMAIL_BACKEND = "cdomail.django.EmailBackend"
    EMAIL_HOST = "smtp.example.com"
    EMAIL_PORT = 587
    EMAIL_USE_TLS = True            # STARTTLS, *required* (never silently dropped)
    EMAIL_HOST_USER = "me@example.com"
    EMAIL_HOST_PASSWORD = "..."
    CDOMAIL_CAFILE = "/etc/ssl/private-ca.pem"   # optional: cdomail's own settings

Django's settings keep their names and their meaning, told truthfully: ``EMAIL_USE_TLS``
is STARTTLS that must succeed (Django's own backend also fails when the server lacks
STARTTLS), ``EMAIL_USE_SSL`` is implicit TLS. With neither, cdomail's secure default
applies (``auto``: implicit TLS on 465, STARTTLS required elsewhere) where Django would
send in plaintext; ``CDOMAIL_TLS = "none"`` (or ``"opportunistic"``) asks for that
explicitly. ``CDOMAIL_TLS`` takes any :class:`cdomail.TLSMode` and wins when set.

``send_messages`` sends every message over one connection, pipelined (``send_many``), each
with its own envelope. What happened is kept: ``backend.last_results`` (one
:class:`cdomail.SendResult` per message, in order), ``message.cdomail_result`` on each
Django message, and the :data:`message_sent` signal.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

from ._extras import require

require("django", "django", part="Django email backend")

from django.conf import settings  # noqa: E402
from django.core.mail.backends.base import BaseEmailBackend  # noqa: E402
from django.core.mail.message import EmailMessage, sanitize_address  # noqa: E402
from django.dispatch import Signal  # noqa: E402

from ._sync.client import SMTPClient  # noqa: E402
from .errors import CdoMailError, ConfigurationError  # noqa: E402
from .message import OutgoingMessage  # noqa: E402
from .result import SendResult  # noqa: E402

__all__ = ["EmailBackend", "message_sent"]

#: Sent once per message after ``send_messages``: keywords ``message`` (the Django
#: EmailMessage) and ``result`` (its :class:`cdomail.SendResult`; ``result.ok``,
#: ``result.encrypted``, ``result.tls``). The sender is the backend class.
message_sent = Signal()


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _tls_mode(use_tls: bool, use_ssl: bool, tls: str | None) -> str:
    """Django's two booleans as a cdomail TLS mode; ``tls`` (CDOMAIL_TLS) when set."""
    if use_tls and use_ssl:
        raise ConfigurationError(
            "EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive: set one of them",
            field="EMAIL_USE_TLS",
        )
    asked = "starttls" if use_tls else "implicit" if use_ssl else None
    if tls is None:
        return asked or "auto"
    if asked is not None and tls != asked:
        setting = "EMAIL_USE_TLS" if use_tls else "EMAIL_USE_SSL"
        raise ConfigurationError(
            f"CDOMAIL_TLS={tls!r} contradicts {setting}=True (which means {asked!r}):"
            " keep one of them",
            field="CDOMAIL_TLS",
        )
    return tls


class EmailBackend(BaseEmailBackend):  # type: ignore[misc]  # Django ships no type hints
    """``EMAIL_BACKEND = "cdomail.django.EmailBackend"``.

    Keywords (as ``django.core.mail.get_connection`` passes them) override the settings:
    ``host``, ``port``, ``username``, ``password``, ``use_tls``, ``use_ssl``, ``timeout``,
    ``ssl_keyfile``, ``ssl_certfile``, and cdomail's ``tls``, ``cafile``, ``fingerprint``
    and ``options`` (more :class:`cdomail.SMTPClient` keywords, also ``CDOMAIL_OPTIONS``).
    """

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool | None = None,
        fail_silently: bool = False,
        use_ssl: bool | None = None,
        timeout: float | None = None,
        ssl_keyfile: str | None = None,
        ssl_certfile: str | None = None,
        *,
        tls: str | None = None,
        cafile: str | None = None,
        fingerprint: str | None = None,
        options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.host: str = host or _setting("EMAIL_HOST", "localhost")
        self.port: int = port or _setting("EMAIL_PORT", 25)
        # Django's empty-string defaults mean "no authentication".
        self.username: str | None = (
            username if username is not None else _setting("EMAIL_HOST_USER", "")
        ) or None
        self._password: str | None = (
            password if password is not None else _setting("EMAIL_HOST_PASSWORD", "")
        ) or None
        self.use_tls = bool(_setting("EMAIL_USE_TLS", False) if use_tls is None else use_tls)
        self.use_ssl = bool(_setting("EMAIL_USE_SSL", False) if use_ssl is None else use_ssl)
        self.timeout: float | None = timeout if timeout is not None else _setting(
            "EMAIL_TIMEOUT", None)
        self.ssl_keyfile = ssl_keyfile or _setting("EMAIL_SSL_KEYFILE", None)
        self.ssl_certfile = ssl_certfile or _setting("EMAIL_SSL_CERTFILE", None)
        self.tls_mode = _tls_mode(self.use_tls, self.use_ssl, tls or _setting("CDOMAIL_TLS", None))
        self.cafile: str | None = cafile or _setting("CDOMAIL_CAFILE", None)
        self.fingerprint: str | None = fingerprint or _setting("CDOMAIL_FINGERPRINT", None)
        self.options: dict[str, Any] = dict(_setting("CDOMAIL_OPTIONS", None) or {})
        self.options.update(options or {})
        self.connection: SMTPClient | None = None
        #: The results of the last ``send_messages`` call, one per message, in order.
        self.last_results: list[SendResult] = []
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        # Never the password (not even its length).
        return (
            f"<{type(self).__name__} {self.host}:{self.port} tls={self.tls_mode}"
            f" user={self.username!r}>"
        )

    def _client(self) -> SMTPClient:
        options: dict[str, Any] = {"tls": self.tls_mode, **self.options}
        if self.username is not None:
            options.update(username=self.username, password=self._password or "")
        if self.timeout is not None:
            # Django's EMAIL_TIMEOUT is the socket timeout of every operation.
            options.update(connect_timeout=self.timeout, command_timeout=self.timeout)
        for key, value in (("cafile", self.cafile), ("fingerprint", self.fingerprint),
                           ("client_cert", self.ssl_certfile), ("client_key", self.ssl_keyfile)):
            if value is not None:
                options[key] = str(value)
        return SMTPClient(self.host, int(self.port), **options)

    def open(self) -> bool | None:
        """Connect (greeting, EHLO, TLS, AUTH); True when a new connection was opened."""
        if self.connection is not None:
            return False
        try:
            client = self._client()
            client.connect()
        except (CdoMailError, OSError):  # OSError as Django's: e.g. an unreadable cert file
            if not self.fail_silently:
                raise
            return None
        self.connection = client
        return True

    def close(self) -> None:
        """QUIT and close; quiet when the connection is already gone."""
        if self.connection is None:
            return
        try:
            self.connection.close()
        except CdoMailError:
            if not self.fail_silently:
                raise
        finally:
            self.connection = None

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send over one connection, pipelined; return how many were accepted.

        Every message is built and checked before connecting. Unless ``fail_silently``,
        the first failure is raised after every message was tried (``last_results`` then
        tells which ones went through). Messages without recipients are skipped, as Django's
        own backend does, and have no result.
        """
        messages = [m for m in email_messages if m.recipients()]
        if not messages:
            return 0
        outgoing = [_outgoing(m) for m in messages]
        with self._lock:
            self.last_results = []
            new_connection = self.open()
            if self.connection is None:
                return 0  # could not connect, and fail_silently
            try:
                results = self.connection.send_many(outgoing)
            except CdoMailError:
                if not self.fail_silently:
                    raise
                return 0
            finally:
                if new_connection:
                    self._close_quietly()
            self.last_results = results
        for message, result in zip(messages, results, strict=True):
            message.cdomail_result = result
            message_sent.send(sender=type(self), message=message, result=result)
        failure = next((r.error for r in results if r.error is not None), None)
        if failure is not None and not self.fail_silently:
            raise failure
        return sum(result.ok for result in results)

    def _close_quietly(self) -> None:
        """After sending, a failed QUIT changes nothing about what was accepted."""
        try:
            if self.connection is not None:
                self.connection.close()
        except (CdoMailError, OSError):
            pass
        finally:
            self.connection = None


def _outgoing(message: EmailMessage) -> OutgoingMessage:
    """Django's envelope (from_email, recipients()) and its bytes, as Django's backend sends."""
    encoding = message.encoding or settings.DEFAULT_CHARSET
    sender = parseaddr(sanitize_address(message.from_email, encoding))[1]
    recipients = [parseaddr(sanitize_address(a, encoding))[1] for a in message.recipients()]
    return OutgoingMessage(
        message.message().as_bytes(linesep="\r\n"), sender=sender, recipients=recipients
    )
