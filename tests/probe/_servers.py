"""The probe's odd ports (silent, not SMTP, old SMTP, a chosen certificate) on the tests' one
SMTP server (:mod:`tests._server`); use each with ``with``: ``with silent() as server: ...``."""

from __future__ import annotations

import ssl

from tests._server import Close, Reply, Script, ScriptedServer, Step, Then, TLSSetup
from tests._server.session import Session

HTTP_ERROR = b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
BYE = Reply(b"221 bye\r\n", then=Then.CLOSE)


def silent() -> ScriptedServer:
    """Accept and never write a byte (a black hole that completes the TCP handshake)."""
    return ScriptedServer(Script(greeting=Reply(b"", then=Then.STALL)))


def http_error_at_once() -> ScriptedServer:
    """Speak first, and not SMTP."""
    return ScriptedServer(Script(greeting=Reply(HTTP_ERROR, then=Then.CLOSE)))


class _AnswerHTTPWhenSpokenTo:
    """``handle_GREETING``: say nothing until the client sends, then answer like a web server."""

    def handle_GREETING(self, session: Session, argument: bytes) -> Step:
        return Reply(HTTP_ERROR, then=Then.CLOSE) if session.receive_some() else Close()


def http_error_when_spoken_to() -> ScriptedServer:
    """Like a web server: wait for the client's bytes, then answer with an HTTP error."""
    return ScriptedServer(Script(handler=_AnswerHTTPWhenSpokenTo()))


def smtps_with(context: ssl.SSLContext) -> ScriptedServer:
    """An implicit-TLS SMTP server presenting ``context``'s certificate (greeting, EHLO, QUIT)."""
    script = Script(
        tls=TLSSetup.IMPLICIT,
        greeting=b"220 tiny.test ESMTP\r\n",
        replies={"EHLO": b"250-tiny.test\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000\r\n",
                 "QUIT": BYE},
        fallback=b"502 not here\r\n",
    )
    return ScriptedServer(script, tls_context=context)


def plain_smtp(greeting: bytes, *, ehlo: bool = True) -> ScriptedServer:
    """A plaintext SMTP server with the given greeting; ``ehlo=False`` knows only HELO."""
    replies: dict[str, Step] = {"HELO": b"250 old.test\r\n", "QUIT": BYE}
    if ehlo:
        replies["EHLO"] = b"250-old.test\r\n250 8BITMIME\r\n"
    script = Script(greeting=greeting + b"\r\n", replies=replies,
                    fallback=b"502 5.5.1 unknown command\r\n")  # fmt: skip
    return ScriptedServer(script)
