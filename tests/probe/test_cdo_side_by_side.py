"""The probe's CDO predictions against what ``cdomail.cdo`` really does on the same listener.

For every lab listener, configured port 25 and 587 (the TCP connection goes to the listener through
``connectto``, emulating a port forward, so CDO sees the configured port), and ``smtpusessl`` True
and False, anonymous and with credentials: the probe predicts, then CDO.Message.Send() runs, and
outcome, HRESULT and timing must agree.
"""

from __future__ import annotations

import asyncio
import time
import warnings

import pytest

from cdomail.cdo import (
    CdoError,
    Message,
    cdoSendPassword,
    cdoSendUserName,
    cdoSendUsingMethod,
    cdoSendUsingPort,
    cdoSMTPAuthenticate,
    cdoSMTPConnectionTimeout,
    cdoSMTPServer,
    cdoSMTPServerPort,
    cdoSMTPUseSSL,
)
from cdomail.lab import Lab
from cdomail.probe import CdoPrediction, probe
from cdomail.result import SendResult
from cdomail.testing.ports import free_port
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER

from ._servers import http_error_at_once, silent

CONNECT_TO = "urn:cdomail:configuration:connectto"
CAFILE = "urn:cdomail:configuration:cafile"
#: CDO's smtpconnectiontimeout is whole seconds; 1 is the smallest.
CDO_TIMEOUT = 1


def cdo_send(lab: Lab, mode: str, port: int, use_ssl: bool, login: bool) -> tuple[object, float]:
    """Send with CDO to a lab listener; return (the SendResult or the CdoError, seconds)."""
    settings: dict[str, object] = {CAFILE: str(lab.ca_path)}
    if login:
        settings |= {cdoSMTPAuthenticate: 1, cdoSendUserName: LAB_USER,
                     cdoSendPassword: LAB_PASSWORD}
    return cdo_send_to((lab.host, lab.port(mode)), port, use_ssl, settings)


def cdo_send_to(
    target: tuple[str, int], port: int, use_ssl: bool, extra: dict[str, object] | None = None
) -> tuple[object, float]:
    """Send with CDO, configured port ``port``, really connecting to ``target``."""
    msg = Message()
    fields = msg.Configuration.Fields
    settings: dict[str, object] = {
        cdoSendUsingMethod: cdoSendUsingPort,
        cdoSMTPServer: "localhost",
        cdoSMTPServerPort: port,
        cdoSMTPUseSSL: use_ssl,
        cdoSMTPConnectionTimeout: CDO_TIMEOUT,
        CONNECT_TO: f"{target[0]}:{target[1]}",
        **(extra or {}),
    }
    for name, value in settings.items():
        fields.Item(name).Value = value
    fields.Update()
    msg.From = "sender@example.com"
    msg.To = "rcpt@example.org"
    msg.Subject = "side by side"
    msg.TextBody = "hello\n"
    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            # CDO faithfully sends credentials in plaintext with smtpusessl=False, and warns.
            warnings.simplefilter("ignore")
            msg.Send()
    except CdoError as error:
        return error, time.monotonic() - started
    return msg.LastSendResult, time.monotonic() - started


def assert_agrees(prediction: CdoPrediction, actual: object, elapsed: float) -> None:
    if prediction.outcome in ("sent-encrypted", "sent-unencrypted"):
        assert not isinstance(actual, CdoError), f"predicted {prediction}, CDO raised {actual}"
        assert isinstance(actual, SendResult)
        assert actual.encrypted is (prediction.outcome == "sent-encrypted")
        return
    assert prediction.outcome == "error", prediction
    assert isinstance(actual, CdoError), f"predicted {prediction}, CDO sent"
    assert actual.hresult == prediction.hresult, (prediction.explanation, str(actual))
    if prediction.timing == "after-timeout":
        assert elapsed >= CDO_TIMEOUT * 0.9
    else:
        assert elapsed < CDO_TIMEOUT * 0.9


@pytest.mark.parametrize("login", [False, True], ids=["anonymous", "login"])
@pytest.mark.parametrize("mode", ["plain", "starttls", "starttls-required", "smtps"])
def test_predictions_match_cdo(lab: Lab, mode: str, login: bool) -> None:
    target = (lab.host, lab.port(mode))
    report = asyncio.run(probe(
        "localhost", [25, 587], timeout=CDO_TIMEOUT, cafile=str(lab.ca_path),
        check_required=True, login=(LAB_USER, LAB_PASSWORD) if login else None,
        connect_to={25: target, 587: target},
    ))
    for port_report in report.ports:
        for use_ssl, prediction in ((True, port_report.cdo_usessl_true),
                                    (False, port_report.cdo_usessl_false)):
            assert prediction.outcome != "unknown", prediction.explanation
            actual, elapsed = cdo_send(lab, mode, port_report.port, use_ssl, login)
            assert_agrees(prediction, actual, elapsed)


def test_closed_and_silent_ports_match_cdo(lab: Lab) -> None:
    with silent() as black_hole:
        for target, configured in (((lab.host, free_port()), 25), ((lab.host, free_port()), 587),
                                   ((lab.host, black_hole.port), 587)):
            report = asyncio.run(probe("localhost", [configured], timeout=CDO_TIMEOUT,
                                       connect_to={configured: target}))
            [port_report] = report.ports
            for use_ssl, prediction in ((True, port_report.cdo_usessl_true),
                                        (False, port_report.cdo_usessl_false)):
                actual, elapsed = cdo_send_to(target, configured, use_ssl)
                assert_agrees(prediction, actual, elapsed)


def test_not_smtp_server_matches_cdo() -> None:
    # Whatever speaks first but not SMTP is a failure to connect for CDO (0x80040213), and
    # the probe predicts exactly that.
    with http_error_at_once() as http:
        target = ("127.0.0.1", http.port)
        report = asyncio.run(probe("localhost", [587], timeout=CDO_TIMEOUT,
                                   connect_to={587: target}))
        [port_report] = report.ports
        assert port_report.verdict.value == "not-smtp"
        for use_ssl, prediction in ((True, port_report.cdo_usessl_true),
                                    (False, port_report.cdo_usessl_false)):
            actual, elapsed = cdo_send_to(target, 587, use_ssl)
            assert_agrees(prediction, actual, elapsed)
