"""The CDO error rows the lab cannot provoke, on the tests' one SMTP server (tests._server).

``scripted_server(replies=..., rcpt_replies=...)`` answers each verb from ``replies`` (``"."``
is the reply after the message content; ``None`` means "close the connection instead of
answering") and each ``RCPT`` naming an address in ``rcpt_replies`` with that reply. The server
records every command line in ``command_lines``.
"""

from __future__ import annotations

from collections.abc import Mapping

from tests._server import Close, Script, ScriptedServer, Step

DEFAULT_REPLIES: dict[str, bytes | None] = {
    "EHLO": b"250-scripted\r\n250-DSN\r\n250 8BITMIME\r\n",
    "HELO": b"250 scripted\r\n",
    "MAIL": b"250 2.1.0 ok\r\n",
    "RCPT": b"250 2.1.5 ok\r\n",
    "DATA": b"354 go ahead\r\n",
    ".": b"250 2.0.0 queued\r\n",
    "RSET": b"250 ok\r\n",
    "NOOP": b"250 ok\r\n",
    "QUIT": b"221 bye\r\n",
}


class _RecipientHook:
    """``handle_RCPT``: a reply chosen by the address, else the script's table."""

    def __init__(self, rcpt_replies: Mapping[str, bytes]) -> None:
        self.rcpt_replies = rcpt_replies

    def handle_RCPT(self, session: object, line: bytes) -> Step | None:
        address = line.decode("ascii", "replace").split("<", 1)[-1].split(">", 1)[0]
        return self.rcpt_replies.get(address)


def _step(reply: bytes | None) -> Step:
    return Close() if reply is None else reply


def scripted_server(
    replies: Mapping[str, bytes | None] | None = None,
    rcpt_replies: Mapping[str, bytes] | None = None,
) -> ScriptedServer:
    """A server (use ``with``) following CDO's table of replies, with the overrides given."""
    table = {**DEFAULT_REPLIES, **(replies or {})}
    script = Script(
        greeting=b"220 scripted ESMTP\r\n",
        replies={("DATA_END" if verb == "." else verb): _step(reply)
                 for verb, reply in table.items()},
        fallback=b"502 5.5.1 not implemented\r\n",
        handler=_RecipientHook(rcpt_replies or {}),
    )
    return ScriptedServer(script)
