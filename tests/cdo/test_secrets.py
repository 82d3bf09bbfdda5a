"""Issue 11 §5, CDO side: no password in any repr, str, exception, traceback locals or log.

``sendpassword`` is write-only in CDO (it reads back empty); that must hold for every view of
the ``Fields`` collection, and the clear text must not surface anywhere a person or a log can
see it -- also when the send fails and the traceback is printed with its local variables.
"""

from __future__ import annotations

import base64
import logging
import traceback
from pathlib import Path

import pytest

from cdomail.cdo import (
    CdoError,
    Configuration,
    Message,
    cdoBasic,
    cdoPostPassword,
    cdoSendPassword,
    cdoSendUserName,
    cdoSMTPAuthenticate,
    read_settings,
)
from cdomail.errors import InputError
from cdomail.lab import Lab
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER

from ._helpers import lab_message

WRONG = "Wr0ng-Pa55phrase"


def forms_of(password: str, user: str = LAB_USER) -> list[str]:
    """The password and the encodings AUTH LOGIN / AUTH PLAIN would put it in."""
    return [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
    ]


def assert_absent(text: str, password: str) -> None:
    for form in forms_of(password):
        assert form not in text


def configured(password: str) -> Configuration:
    conf = Configuration()
    conf.Fields[cdoSendUserName] = LAB_USER
    conf.Fields[cdoSendPassword] = password
    conf.Fields[cdoPostPassword] = password
    return conf


def every_view(conf: Configuration) -> str:
    fields = conf.Fields
    views = [
        repr(conf), str(conf), repr(fields), str(fields), repr(list(fields)),
        repr([(f.Name, f.Value, f.UnderlyingValue, f.OriginalValue) for f in fields]),
        repr({f.Name: f.Value for f in fields}),
        repr(fields.committed_items()), repr(fields.pending_names()),
        repr(fields.Item(cdoSendPassword).Value), repr(fields(cdoSendPassword).value),
        repr(fields.committed(cdoSendPassword)), str(fields.committed(cdoSendPassword)),
        f"{fields.committed(cdoSendPassword)}",
    ]
    return "\n".join(views)


def test_password_is_write_only_in_every_view_before_and_after_update() -> None:
    conf = configured("S3cret-Value")
    assert_absent(every_view(conf), "S3cret-Value")
    assert conf.Fields.Item(cdoSendPassword).Value == ""
    conf.Fields.Update()
    assert_absent(every_view(conf), "S3cret-Value")
    assert conf.Fields.committed_items()[cdoSendPassword] == ""
    assert conf.Fields.committed_items()[cdoPostPassword] == ""
    assert conf.Fields.Item(cdoSendPassword).UnderlyingValue == ""


def test_transport_settings_repr_hides_the_password() -> None:
    conf = configured("S3cret-Value")
    conf.Fields.Update()
    settings = read_settings(conf.Fields)
    assert_absent(repr(settings) + str(settings), "S3cret-Value")
    assert settings.password is not None
    assert settings.password.reveal() == "S3cret-Value"
    assert "Secret('***')" in repr(settings)


def test_message_repr_hides_the_password() -> None:
    msg = Message()
    msg.Configuration = configured("S3cret-Value")
    msg.Configuration.Fields.Update()
    assert_absent(repr(msg) + repr(msg.Configuration) + repr(vars(msg)), "S3cret-Value")


def _captured_failure(lab: Lab, caplog: pytest.LogCaptureFixture) -> CdoError:
    msg = lab_message(
        lab, "smtps", port=465, use_ssl=True,
        fields={cdoSMTPAuthenticate: cdoBasic, cdoSendUserName: LAB_USER,
                cdoSendPassword: WRONG},
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(CdoError) as info:
        msg.Send()
    return info.value


def test_failed_send_shows_no_password_anywhere(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    error = _captured_failure(lab, caplog)
    assert error.hresult == 0x80040215
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None:
        chain.append(current)
        current = current.__cause__ or current.__context__
    assert len(chain) >= 2
    shown = "\n".join(f"{e!s}\n{e!r}\n{e.args!r}" for e in chain)
    # A traceback printed with every frame's local variables (what rich, pytest -l and
    # better_exceptions show) must not contain it either.
    shown += "".join(
        traceback.TracebackException.from_exception(error, capture_locals=True).format()
    )
    shown += "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert_absent(shown, WRONG)


def test_successful_send_logs_no_password(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    msg = lab_message(
        lab, "smtps", port=465, use_ssl=True,
        fields={cdoSMTPAuthenticate: cdoBasic, cdoSendUserName: LAB_USER,
                cdoSendPassword: LAB_PASSWORD},
    )
    with caplog.at_level(logging.DEBUG):
        msg.Send()
    assert lab.messages[0].authenticated_as == LAB_USER
    logged = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert_absent(logged + repr(msg.LastSendResult), LAB_PASSWORD)


def test_attachment_url_credentials_stay_out_of_errors_and_reprs(tmp_path: Path) -> None:
    msg = Message()
    with pytest.raises(InputError) as info:
        msg.AddAttachment("ftp://user:Url-Pa55@example.com/file.pdf")
    assert "Url-Pa55" not in str(info.value)
    path = tmp_path / "a.txt"
    path.write_bytes(b"x")
    part = msg.AddAttachment(str(path), "user", "Url-Pa55")
    assert "Url-Pa55" not in repr(part) + repr(msg.Attachments) + repr(msg)
