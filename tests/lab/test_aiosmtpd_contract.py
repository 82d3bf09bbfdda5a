"""The private aiosmtpd members the lab relies on still exist and still behave.

aiosmtpd has no public hook for the line reader, the end of a transaction or the connection's
task, so ``cdomail.lab._server.LabSMTP`` uses ``_cb_client_connected``, ``_reader``,
``_set_post_data_state`` and ``_handler_coroutine`` (pyproject pins ``aiosmtpd>=1.4.6,<1.5``).
A newer aiosmtpd that drops or changes one must fail here, naming the member and the version,
not somewhere deep inside a lab test. The relay's listener uses public aiosmtpd API only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosmtpd
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

VERSION = getattr(aiosmtpd, "__version__", "unknown")
PRIVATE_METHODS = ("_cb_client_connected", "_set_post_data_state", "_set_rset_state")


def _broken(member: str, what: str) -> str:
    return (
        f"installed aiosmtpd {VERSION}: SMTP.{member} {what}; cdomail.lab._server.LabSMTP relies "
        f"on it (tested with aiosmtpd 1.4.6; pyproject pins aiosmtpd>=1.4.6,<1.5)"
    )


class _Handler:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


class _ObservedSMTP(SMTP):
    """aiosmtpd's SMTP, noting what the lab overrides and reads."""

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(_Handler())
        self.seen = seen

    def _cb_client_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super()._cb_client_connected(reader, writer)
        self.seen["_cb_client_connected"] = reader

    def _set_post_data_state(self) -> None:
        super()._set_post_data_state()  # type: ignore[no-untyped-call]
        self.seen["_set_post_data_state"] = self.seen.get("_set_post_data_state", 0) + 1

    async def smtp_NOOP(self, arg: str) -> None:
        # Seen from inside a live session: what LabSMTP.abort() and BDAT read.
        self.seen["_reader"] = getattr(self, "_reader", None)
        self.seen["_handler_coroutine"] = getattr(self, "_handler_coroutine", None)
        self.seen["resets_before_mail"] = self.seen.get("_set_post_data_state", 0)
        await super().smtp_NOOP(arg)


async def _converse(seen: dict[str, Any]) -> list[bytes]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _ObservedSMTP(seen), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    replies: list[bytes] = []
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        replies.append(await reader.readline())
        for command in (b"EHLO a.example", b"NOOP", b"MAIL FROM:<a@example.org>",
                        b"RCPT TO:<b@example.org>", b"DATA"):  # fmt: skip
            writer.write(command + b"\r\n")
            line = await reader.readline()
            while line[3:4] == b"-":
                line = await reader.readline()
            replies.append(line)
        writer.write(b"Subject: x\r\n\r\nbody\r\n.\r\nRSET\r\nQUIT\r\n")
        replies.extend([await reader.readline() for _ in range(3)])
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    return replies


@pytest.mark.parametrize("name", PRIVATE_METHODS)
def test_private_methods_the_lab_overrides_exist(name: str) -> None:
    assert callable(getattr(SMTP, name, None)), _broken(name, "is missing")


def test_private_members_behave_as_the_lab_expects() -> None:
    seen: dict[str, Any] = {}
    replies = asyncio.run(_converse(seen))
    assert [r[:3] for r in replies] == [b"220", b"250", b"250", b"250", b"250", b"354", b"250",
                                        b"250", b"221"], replies  # fmt: skip
    assert isinstance(seen.get("_cb_client_connected"), asyncio.StreamReader), _broken(
        "_cb_client_connected", "is no longer called with the connection's StreamReader"
    )
    assert seen.get("_reader") is seen["_cb_client_connected"], _broken(
        "_reader", "is not the StreamReader commands are read from"
    )
    assert isinstance(seen.get("_handler_coroutine"), asyncio.Task), _broken(
        "_handler_coroutine", "is not the connection's asyncio.Task"
    )
    # EHLO resets the state (RFC 5321 §4.1.4); so do the end of DATA and RSET (§4.1.1.5).
    assert seen.get("resets_before_mail", 0) >= 1, _broken(
        "_set_post_data_state", "is no longer called when EHLO resets the state"
    )
    assert seen.get("_set_post_data_state", 0) >= seen["resets_before_mail"] + 2, _broken(
        "_set_post_data_state", "is no longer called after DATA and on RSET"
    )
