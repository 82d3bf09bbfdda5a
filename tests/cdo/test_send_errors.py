"""CdoErrors raised by Send that need a server (a scripted one on loopback), and DSN."""

from __future__ import annotations

import pytest

from cdomail.cdo import (
    CdoError,
    Message,
    cdoDSNFailure,
    cdoDSNNever,
    cdoDSNSuccessFailOrDelay,
    cdoSendUsingMethod,
    cdoSendUsingPort,
    cdoSMTPConnectionTimeout,
    cdoSMTPServer,
    cdoSMTPServerPort,
)
from cdomail.cdo.transport import notify_parameter
from cdomail.errors import ConnectError, DataRefused, RecipientsRefused, ServerDisconnected
from cdomail.lab import Lab

from ._scripted import scripted_server


def message_to(port: int, host: str = "127.0.0.1") -> Message:
    msg = Message()
    f = msg.Configuration.Fields
    f(cdoSendUsingMethod).Value = cdoSendUsingPort
    f(cdoSMTPServer).Value = host
    f(cdoSMTPServerPort).Value = port
    f(cdoSMTPConnectionTimeout).Value = 5
    f.Update()
    msg.From = "me@example.com"
    msg.To = "a@example.org"
    msg.TextBody = "x"
    return msg


def test_every_recipient_refused() -> None:
    refusal = b"550 5.1.1 <a@example.org>: mailbox unavailable\r\n"
    with scripted_server(rcpt_replies={"a@example.org": refusal}) as server, \
            pytest.raises(CdoError) as info:
        message_to(server.port).Send()
    error = info.value
    assert error.hresult == 0x8004020F
    assert error.server_response.startswith("550")
    assert "mailbox unavailable" in error.description
    assert isinstance(error.__cause__, RecipientsRefused)
    assert "RCPT TO:<a@example.org>" in server.command_lines


def test_one_recipient_refused_is_still_an_error() -> None:
    refusal = b"550 5.1.1 no such user\r\n"
    with scripted_server(rcpt_replies={"b@example.org": refusal}) as server:
        msg = message_to(server.port)
        msg.CC = "b@example.org"
        with pytest.raises(CdoError) as info:
            msg.Send()
    assert info.value.hresult == 0x8004020F
    assert "b@example.org" in info.value.detail
    assert list(info.value.send_result.accepted) == ["a@example.org"]


def test_data_refused_is_send_failed() -> None:
    rejecting = {"DATA": b"554 5.6.0 content rejected\r\n"}
    with scripted_server(replies=rejecting) as server, pytest.raises(CdoError) as info:
        message_to(server.port).Send()
    error = info.value
    assert error.hresult == 0x80040211
    assert "transport error code was 0x80040211" in error.description
    assert error.description.endswith("The server response was 554 5.6.0 content rejected")
    assert isinstance(error.__cause__, DataRefused)


def test_connection_dropped_mid_session() -> None:
    with scripted_server(replies={"MAIL": None}) as server, pytest.raises(CdoError) as info:
        message_to(server.port).Send()
    assert info.value.hresult == 0x80040212
    assert info.value.name == "CDO_E_CONNECTION_DROPPED"
    assert isinstance(info.value.__cause__, ServerDisconnected)


def test_nothing_listening_fails_to_connect() -> None:
    with scripted_server() as server:
        port = server.port
    with pytest.raises(CdoError) as info:
        message_to(port).Send()
    assert info.value.hresult == 0x80040213
    assert isinstance(info.value.__cause__, ConnectError)


@pytest.mark.parametrize(
    ("options", "expected"),
    [(cdoDSNSuccessFailOrDelay, "NOTIFY=SUCCESS,FAILURE,DELAY"),
     (cdoDSNNever, "NOTIFY=NEVER"), (cdoDSNFailure, "NOTIFY=FAILURE")],
)
def test_dsn_options_become_notify_when_offered(options: int, expected: str) -> None:
    with scripted_server() as server:
        msg = message_to(server.port)
        msg.DSNOptions = options
        msg.Send()
    rcpt = [c for c in server.command_lines if c.upper().startswith("RCPT")]
    assert rcpt == [f"RCPT TO:<a@example.org> {expected}"]


def test_dsn_options_are_dropped_when_not_offered(lab: Lab) -> None:
    msg = message_to(lab.port("plain"))
    msg.DSNOptions = cdoDSNSuccessFailOrDelay
    msg.Send()
    assert lab.messages[0].rcpt_options == [[]]
    assert notify_parameter(0) is None


def test_unreachable_url_attachment_is_send_failed(lab: Lab) -> None:
    with scripted_server() as closed:
        dead_port = closed.port
    msg = message_to(lab.port("plain"))
    # The failure happens mid-DATA; keep the client's clean-up wait short.
    msg.Configuration.Fields(cdoSMTPConnectionTimeout).Value = 1
    msg.Configuration.Fields.Update()
    msg.AddAttachment(f"http://127.0.0.1:{dead_port}/report.pdf")
    with pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == 0x80040211
    assert "reading an attachment failed" in info.value.detail
    assert lab.messages == []
