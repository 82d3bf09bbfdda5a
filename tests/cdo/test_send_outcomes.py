"""CDO's Send never returns normally unless the server said 250 after the data, says so when the
outcome is unknown, and tells a retrying caller who already has the message."""

from __future__ import annotations

import pytest

from cdomail.cdo import CdoError
from cdomail.errors import StatusUnknown, UnexpectedReply

from ._scripted import scripted_server
from .test_send_errors import message_to


@pytest.mark.parametrize(
    ("replies", "code"),
    [({"DATA": b"250 2.0.0 ok, no data needed\r\n"}, 250),
     ({".": b"354 send more\r\n"}, 354),
     ({".": b"251 2.1.5 forwarded\r\n"}, 251)],
    ids=["250-to-DATA", "354-after-dot", "251-after-dot"],
)
def test_reply_neither_success_nor_refusal_raises_send_failed(
    replies: dict[str, bytes], code: int
) -> None:
    with scripted_server(replies=replies) as server, pytest.raises(CdoError) as info:
        message_to(server.port).Send()
    error = info.value
    assert error.hresult == 0x80040211
    assert error.server_response.startswith(str(code))
    assert isinstance(error.__cause__, UnexpectedReply)


def test_connection_lost_after_the_dot_says_it_may_have_been_accepted() -> None:
    with scripted_server(replies={".": None}) as server, pytest.raises(CdoError) as info:
        message_to(server.port).Send()
    error = info.value
    assert error.hresult == 0x80040212
    assert "may have accepted the message" in error.Description
    assert isinstance(error.__cause__, StatusUnknown)


def test_partial_refusal_names_who_already_has_the_message() -> None:
    refusal = b"550 5.1.1 no such user\r\n"
    with scripted_server(rcpt_replies={"b@example.org": refusal}) as server:
        msg = message_to(server.port)
        msg.CC = "b@example.org"
        with pytest.raises(CdoError) as info:
            msg.Send()
        assert "DATA" in server.command_lines  # RFC 5321 §3.3: the accepted recipient got it
    error = info.value
    assert error.hresult == 0x8004020F
    assert "WAS delivered to: a@example.org" in error.Description
    assert "Refused: b@example.org" in error.Description
    assert list(error.send_result.accepted) == ["a@example.org"]


def test_server_text_in_the_description_is_escaped() -> None:
    hostile = b"550 5.1.1 \x1b]0;owned\x07\x1b[1A\x1b[2K\xc2\x9b31m ENCRYPTED \xe2\x80\xae\r\n"
    with scripted_server(rcpt_replies={"a@example.org": hostile}) as server, \
            pytest.raises(CdoError) as info:
        message_to(server.port).Send()
    error = info.value
    for shown in (error.Description, error.server_response, str(error), error.detail):
        for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
            assert raw not in shown
    assert "\\x1b]0;owned" in error.Description
