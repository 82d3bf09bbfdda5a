"""A tiny scripted SMTP server on 127.0.0.1 for the CDO error rows the lab cannot provoke.

One thread, one session at a time, plain sockets: it answers each verb from ``replies``
(``None`` means "close the connection instead of answering") and records every command line.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from types import TracebackType

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


class ScriptedServer:
    """Serve SMTP sessions on loopback following a table of replies."""

    def __init__(self, replies: Mapping[str, bytes | None] | None = None,
                 rcpt_replies: Mapping[str, bytes] | None = None) -> None:
        self.replies = {**DEFAULT_REPLIES, **(replies or {})}
        self.rcpt_replies = rcpt_replies or {}
        self.commands: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="cdo-scripted-smtp")

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        assert not self._thread.is_alive()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    self._session(conn)
                except OSError:
                    pass

    def _session(self, conn: socket.socket) -> None:
        conn.sendall(b"220 scripted ESMTP\r\n")
        reader = conn.makefile("rb")
        in_data = False
        while True:
            line = reader.readline()
            if not line:
                return
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    if not self._answer(conn, "."):
                        return
                continue
            text = line.decode("ascii", "replace").rstrip("\r\n")
            self.commands.append(text)
            verb = text.split(" ", 1)[0].upper()
            if verb == "RCPT":
                address = text.split("<", 1)[-1].split(">", 1)[0]
                if address in self.rcpt_replies:
                    conn.sendall(self.rcpt_replies[address])
                    continue
            if not self._answer(conn, verb):
                return
            if verb == "DATA" and self.replies["DATA"] == DEFAULT_REPLIES["DATA"]:
                in_data = True
            if verb == "QUIT":
                return

    def _answer(self, conn: socket.socket, verb: str) -> bool:
        reply = self.replies.get(verb, b"502 5.5.1 not implemented\r\n")
        if reply is None:
            return False
        conn.sendall(reply)
        return True
