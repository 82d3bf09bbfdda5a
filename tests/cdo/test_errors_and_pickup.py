"""CdoError values, the errors Send raises before connecting, and the pickup directory."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from cdomail.cdo import (
    CdoError,
    Message,
    cdoFlushBuffersOnWrite,
    cdoSendUsingMethod,
    cdoSendUsingPickup,
    cdoSendUsingPort,
    cdoSMTPServerPickupDirectory,
    signed_hresult,
)
from cdomail.cdo.errors import (
    CDO_E_FAILED_TO_CONNECT,
    CDO_E_SENDER_REJECTED,
    CDO_E_SMTP_SEND_FAILED,
    ERROR_CODES,
)
from cdomail.errors import CdoMailError


def test_hresult_number_name_and_description() -> None:
    error = CdoError(CDO_E_FAILED_TO_CONNECT)
    assert isinstance(error, CdoMailError)
    assert error.hresult == 0x80040213
    assert error.number == -2147220973
    assert error.Number == error.number
    assert error.name == "CDO_E_FAILED_TO_CONNECT"
    assert error.description == "The transport failed to connect to the server."
    assert "0x80040213" in str(error)


def test_description_fills_server_response_and_transport_code() -> None:
    error = CdoError(CDO_E_SENDER_REJECTED,
                     server_response="530 5.7.0 Must issue a STARTTLS command first")
    assert error.description.endswith("The server response was: 530 5.7.0 Must issue a "
                                      "STARTTLS command first")
    failed = CdoError(CDO_E_SMTP_SEND_FAILED, server_response="554 no", transport_code=0x80040211)
    assert "transport error code was 0x80040211" in failed.description
    assert "%" not in failed.description


def test_every_documented_code_is_present() -> None:
    assert sorted(ERROR_CODES) == [0x8004020A, 0x8004020C, 0x8004020D, 0x8004020E, 0x8004020F,
                                   0x80040211, 0x80040212, 0x80040213, 0x80040215, 0x80040217,
                                   0x80040220, 0x80040222, 0x8004022B]
    assert signed_hresult(0x8004020E) == -2147220978
    assert signed_hresult(5) == 5


def _message(**fields: object) -> Message:
    msg = Message()
    msg.From = "me@example.com"
    msg.To = "a@example.org"
    msg.BCC = "secret@example.org"
    msg.TextBody = "hello"
    for name, value in fields.items():
        msg.Configuration.Fields[name] = value
    msg.Configuration.Fields.Update()
    return msg


@pytest.mark.parametrize(
    ("fields", "hresult"),
    [({}, 0x80040220),
     ({cdoSendUsingMethod: 3}, 0x80040220),
     ({cdoSendUsingMethod: cdoSendUsingPort}, 0x8004020A),
     ({cdoSendUsingMethod: cdoSendUsingPickup}, 0x80040222)],
)
def test_configuration_errors_before_anything_is_sent(fields: dict[str, object],
                                                      hresult: int) -> None:
    with pytest.raises(CdoError) as info:
        _message(**fields).Send()
    assert info.value.hresult == hresult


@pytest.mark.parametrize("flush", [False, True])
def test_pickup_writes_envelope_lines_and_keeps_bcc(tmp_path: Path, flush: bool) -> None:
    msg = _message(**{cdoSendUsingMethod: cdoSendUsingPickup,
                      cdoSMTPServerPickupDirectory: str(tmp_path),
                      cdoFlushBuffersOnWrite: flush})
    msg.Send()
    files = list(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".eml"]  # no temporary file left behind
    raw = files[0].read_bytes()
    assert raw.startswith(b"X-Sender: me@example.com\r\nX-Receiver: a@example.org\r\n"
                          b"X-Receiver: secret@example.org\r\nFrom: ")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"] == "a@example.org"
    assert "Bcc" not in parsed
    assert msg.LastPickupPath == str(files[0])


def test_pickup_failure_leaves_no_partial_file(tmp_path: Path) -> None:
    msg = _message(**{cdoSendUsingMethod: cdoSendUsingPickup,
                      cdoSMTPServerPickupDirectory: str(tmp_path)})
    attachment = tmp_path.parent / f"{tmp_path.name}-att.bin"
    attachment.write_bytes(b"data")
    msg.AddAttachment(str(attachment))
    attachment.unlink()  # vanishes before Send: the write fails half-way
    with pytest.raises(FileNotFoundError):
        msg.Send()
    assert list(tmp_path.iterdir()) == []


def test_send_without_sender_or_recipient(tmp_path: Path) -> None:
    msg = _message(**{cdoSendUsingMethod: cdoSendUsingPickup,
                      cdoSMTPServerPickupDirectory: str(tmp_path)})
    msg.From = ""
    with pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == 0x8004020D
    msg.From = "me@example.com"
    msg.To = msg.BCC = ""
    with pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == 0x8004020C
    assert list(tmp_path.iterdir()) == []
