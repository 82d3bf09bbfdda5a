"""cdomail.django.EmailBackend driven by Django's own mail API, against the lab.

Each test points the project's settings at a running lab and checks from the server's side
what arrived (envelope, content, whether it was encrypted), and from the caller's side what
the backend reported (``last_results``, ``message.cdomail_result``, the ``message_sent``
signal).
"""

from __future__ import annotations

import email
import email.message
import email.policy
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import override_settings

from cdomail.django import EmailBackend, message_sent
from cdomail.errors import (
    AuthenticationFailed,
    CdoMailError,
    ConfigurationError,
    FingerprintMismatch,
    SenderRefused,
    TLSRequired,
)
from cdomail.lab import Lab
from cdomail.testing import LAB_PASSWORD, LAB_USER


def lab_settings(lab: Lab, listener: str = "starttls-required", **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "EMAIL_HOST": "localhost",
        "EMAIL_PORT": lab.port(listener),
        "EMAIL_USE_TLS": True,
        "EMAIL_HOST_USER": LAB_USER,
        "EMAIL_HOST_PASSWORD": LAB_PASSWORD,
        "CDOMAIL_CAFILE": str(lab.ca_path),
        "EMAIL_TIMEOUT": 10,
    }
    settings.update(extra)
    return settings


def parse(data: bytes) -> email.message.EmailMessage:
    """A stored message (CRLF line ends, as on the wire) as Python sees a file."""
    message = email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


@pytest.fixture
def signals() -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def receiver(sender: type, **named: Any) -> None:
        received.append({"sender": sender, **named})

    message_sent.connect(receiver)
    yield received
    message_sent.disconnect(receiver)


def test_send_mail_goes_through_starttls_with_auth(
    lab: Lab, signals: list[dict[str, Any]]
) -> None:
    with override_settings(**lab_settings(lab)):
        count = mail.send_mail("Hello", "Body text\n", "Me <me@example.test>",
                               ["you@example.test"])
    assert count == 1
    [stored] = lab.messages
    assert stored.encrypted and stored.authenticated_as == LAB_USER
    assert stored.mail_from == "me@example.test"
    assert stored.rcpt_tos == ["you@example.test"]
    parsed = parse(stored.data)
    assert parsed["Subject"] == "Hello"
    assert parsed.get_content() == "Body text\n"
    # The caller learns the same fact the server saw.
    [signal] = signals
    assert signal["sender"] is EmailBackend
    assert signal["result"].ok and signal["result"].encrypted
    assert signal["result"].tls_mode == "starttls"
    assert signal["message"].cdomail_result is signal["result"]


def test_management_command_multipart_attachments_and_admins_on_one_connection(
    lab: Lab, tmp_path: Path
) -> None:
    attachment = tmp_path / "logo.bin"
    attachment.write_bytes(bytes(range(256)) * 4)
    out = StringIO()
    with override_settings(**lab_settings(lab)):
        call_command("send_report", to="boss@example.test", attach=str(attachment), stdout=out)
    report, notice, admins = lab.messages
    # One connection for the three messages (send_messages pipelined, then mail_admins).
    assert len(lab.sessions) == 1
    assert all(m.encrypted for m in lab.messages)
    assert report.mail_from == "reports@example.test"
    assert sorted(report.rcpt_tos) == ["audit@example.test", "boss@example.test"]
    parsed = parse(report.data)
    assert "Bcc" not in parsed and parsed["To"] == "boss@example.test"
    html = parsed.get_body(("html",))
    assert html is not None and html.get_content() == "<p>Numbers <b>attached</b>.</p>"
    files = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
    assert files == {"numbers.csv": "day,sent\nmonday,42\n",
                     "logo.bin": attachment.read_bytes()}
    assert notice.rcpt_tos == ["boss@example.test"]
    assert admins.mail_from == "django@example.test"
    assert admins.rcpt_tos == ["ops@example.test", "night@example.test"]
    assert b"Subject: [mailapp] Report sent" in admins.data
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Daily report: ok=True encrypted=True tls=TLSv1.")
    assert lines[1].startswith("Report sent: ok=True encrypted=True tls=TLSv1.")


def test_use_ssl_is_implicit_tls(lab: Lab) -> None:
    settings = lab_settings(lab, "smtps", EMAIL_USE_TLS=False, EMAIL_USE_SSL=True)
    with override_settings(**settings):
        backend = mail.get_connection()
        sent = backend.send_messages([mail.EmailMessage("s", "b", "a@example.test",
                                                        ["b@example.test"])])
    assert sent == 1
    [result] = backend.last_results
    assert result.tls_mode == "implicit" and result.tls is not None and result.tls.verified
    assert lab.messages[0].listener == "smtps" and lab.messages[0].encrypted


def test_use_tls_is_never_silently_dropped(lab: Lab) -> None:
    settings = lab_settings(lab, "plain", EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="")
    message = mail.EmailMessage("s", "b", "a@example.test", ["b@example.test"])
    with override_settings(**settings):
        with pytest.raises(TLSRequired):
            mail.get_connection().send_messages([message])
        assert mail.get_connection(fail_silently=True).send_messages([message]) == 0
    assert lab.messages == []


def test_plaintext_only_when_asked_for(lab: Lab) -> None:
    settings = lab_settings(lab, "plain", EMAIL_USE_TLS=False, EMAIL_HOST_USER="",
                            EMAIL_HOST_PASSWORD="", CDOMAIL_TLS="none")
    with override_settings(**settings):
        backend = mail.get_connection()
        assert backend.send_messages([mail.EmailMessage("s", "b", "a@example.test",
                                                        ["b@example.test"])]) == 1
    assert backend.last_results[0].encrypted is False
    assert lab.messages[0].encrypted is False


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"EMAIL_USE_SSL": True}, "EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive"),
        ({"CDOMAIL_TLS": "implicit"}, "CDOMAIL_TLS='implicit' contradicts EMAIL_USE_TLS"),
    ],
)
def test_contradictory_settings_are_refused(
    lab: Lab, settings: dict[str, Any], problem: str
) -> None:
    with override_settings(**lab_settings(lab, **settings)), \
            pytest.raises(ConfigurationError, match=problem):
        mail.get_connection()
    assert lab.sessions == []


def test_wrong_password_raises_without_showing_it(lab: Lab) -> None:
    wrong = "wrong-password-do-not-print"
    with override_settings(**lab_settings(lab, EMAIL_HOST_PASSWORD=wrong)):
        backend = mail.get_connection()
        with pytest.raises(AuthenticationFailed) as raised:
            backend.send_messages([mail.EmailMessage("s", "b", "a@example.test",
                                                     ["b@example.test"])])
        assert mail.get_connection(fail_silently=True).send_messages(
            [mail.EmailMessage("s", "b", "a@example.test", ["b@example.test"])]) == 0
    assert wrong not in str(raised.value) and wrong not in repr(raised.value)
    assert wrong not in repr(backend) and LAB_USER in repr(backend)
    assert lab.messages == []


def test_keywords_of_get_connection_override_settings(lab: Lab) -> None:
    with override_settings(**lab_settings(lab, EMAIL_PORT=1)):
        backend = mail.get_connection(port=lab.port("starttls"), tls="starttls")
        message = mail.EmailMessage("s", "b", "a@example.test", ["b@example.test"])
        assert backend.send_messages([message]) == 1
    assert message.cdomail_result.encrypted
    assert lab.messages[0].listener == "starttls"


def test_client_certificate_settings_reach_the_tls_layer(lab: Lab, tmp_path: Path) -> None:
    message = mail.EmailMessage("s", "b", "a@example.test", ["b@example.test"])
    # The lab does not ask for a client certificate, so a valid pair simply works ...
    with override_settings(**lab_settings(lab, EMAIL_SSL_CERTFILE=str(lab.cert_path),
                                          EMAIL_SSL_KEYFILE=str(lab.key_path))):
        assert mail.get_connection().send_messages([message]) == 1
    # ... and a missing one is an error before any message is sent: the setting was used.
    missing = str(tmp_path / "missing-client-cert.pem")
    with override_settings(**lab_settings(lab, EMAIL_SSL_CERTFILE=missing)):
        with pytest.raises((OSError, CdoMailError)):
            mail.get_connection().send_messages([message])
        assert mail.get_connection(fail_silently=True).send_messages([message]) == 0
    assert len(lab.messages) == 1


@pytest.mark.lab(latency_ms=3000)
def test_email_timeout_bounds_the_wait_for_a_slow_server(lab: Lab) -> None:
    message = mail.EmailMessage("s", "b", "a@example.test", ["b@example.test"])
    with override_settings(**lab_settings(lab, EMAIL_TIMEOUT=0.5)), \
            pytest.raises(TimeoutError):
        mail.get_connection().send_messages([message])
    assert lab.messages == []


def test_a_bad_message_is_refused_before_connecting(lab: Lab) -> None:
    good = mail.EmailMessage("fine", "b", "a@example.test", ["b@example.test"])
    bad = mail.EmailMessage("split\nSubject: injected", "b", "a@example.test",
                            ["b@example.test"])
    with override_settings(**lab_settings(lab)), pytest.raises(ValueError, match="newline"):
        mail.get_connection().send_messages([good, bad])
    assert lab.sessions == []


@pytest.mark.lab(auth_required=True)
def test_refused_messages_are_all_tried_then_the_first_failure_raised(lab: Lab) -> None:
    messages = [mail.EmailMessage(f"m{n}", "b", "a@example.test", ["b@example.test"])
                for n in range(3)]
    settings = lab_settings(lab, "starttls", EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="")
    with override_settings(**settings):
        backend = mail.get_connection()
        with pytest.raises(SenderRefused) as raised:
            backend.send_messages(messages)
        assert mail.get_connection(fail_silently=True).send_messages(messages) == 0
    assert raised.value.code == 530
    assert len(backend.last_results) == 3
    assert all(isinstance(r.error, SenderRefused) and r.encrypted for r in backend.last_results)
    assert all(m.cdomail_result.error is not None for m in messages)
    assert lab.messages == []


def test_fingerprint_pin_replaces_the_ca_and_a_wrong_pin_stops_the_send(lab: Lab) -> None:
    message = mail.EmailMessage("s", "b", "a@example.test", ["b@example.test"])
    with override_settings(**lab_settings(lab)):
        backend = mail.get_connection()
        backend.send_messages([message])
    pin = backend.last_results[0].tls.fingerprint
    with override_settings(**lab_settings(lab, CDOMAIL_CAFILE=None, CDOMAIL_FINGERPRINT=pin)):
        pinned = mail.get_connection()
        assert pinned.send_messages([message]) == 1
    assert pinned.last_results[0].tls.verified_by == "fingerprint"
    wrong = "00" + pin[2:] if not pin.startswith("00") else "11" + pin[2:]
    wrong_pin = lab_settings(lab, CDOMAIL_CAFILE=None, CDOMAIL_FINGERPRINT=wrong)
    with override_settings(**wrong_pin), pytest.raises(FingerprintMismatch):
        mail.get_connection().send_messages([message])
    assert len(lab.messages) == 2
