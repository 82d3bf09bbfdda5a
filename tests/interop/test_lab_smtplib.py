"""Python's smtplib against every listener of the cdomail lab."""

from __future__ import annotations

import base64
import smtplib
from typing import TYPE_CHECKING

import pytest

from ._delivered import new_marker
from ._labtools import (
    LAB_PASSWORD,
    LAB_USER,
    RECIPIENT,
    SENDER,
    assert_stored,
    case_id,
    sample_message,
    session_of,
    sessions_since,
    stored_with,
)

if TYPE_CHECKING:
    from cdomail.lab import Lab

pytestmark = pytest.mark.interop


def _connect(lab: Lab, listener: str, *, starttls: bool) -> smtplib.SMTP:
    if listener == "smtps":
        return smtplib.SMTP_SSL(
            lab.host, lab.port(listener), context=lab.client_context(), timeout=10
        )
    client = smtplib.SMTP(lab.host, lab.port(listener), timeout=10)
    if starttls:
        client.starttls(context=lab.client_context())
    return client


@pytest.mark.parametrize(
    ("listener", "starttls", "encrypted"),
    [
        ("plain", False, False),
        ("starttls", False, False),
        ("starttls", True, True),
        ("starttls-required", True, True),
        ("smtps", False, True),
    ],
    ids=case_id,
)
def test_smtplib_delivers_with_the_expected_encryption(
    interop_lab: Lab, listener: str, starttls: bool, encrypted: bool
) -> None:
    marker = new_marker()
    message = sample_message(marker, "smtplib")
    with _connect(interop_lab, listener, starttls=starttls) as client:
        client.sendmail(SENDER, [RECIPIENT], message)
    stored = assert_stored(interop_lab, marker, listener=listener, encrypted=encrypted)
    assert stored.data == message
    assert not stored.chunked


@pytest.mark.parametrize("listener", ["starttls", "starttls-required", "smtps"])
def test_smtplib_authenticates_over_tls(interop_lab: Lab, listener: str) -> None:
    marker = new_marker()
    with _connect(interop_lab, listener, starttls=True) as client:
        client.login(LAB_USER, LAB_PASSWORD)
        client.sendmail(SENDER, [RECIPIENT], sample_message(marker, "smtplib"))
    stored = assert_stored(
        interop_lab, marker, listener=listener, encrypted=True, authenticated_as=LAB_USER
    )
    transcript = session_of(interop_lab, stored).text()
    assert LAB_PASSWORD not in transcript
    assert base64.b64encode(f"\0{LAB_USER}\0{LAB_PASSWORD}".encode()).decode() not in transcript


def test_smtplib_without_starttls_is_refused_by_the_required_listener(interop_lab: Lab) -> None:
    marker = new_marker()
    with (
        _connect(interop_lab, "starttls-required", starttls=False) as client,
        pytest.raises(smtplib.SMTPSenderRefused) as refused,
    ):
        client.sendmail(SENDER, [RECIPIENT], sample_message(marker, "smtplib"))
    assert refused.value.smtp_code == 530
    assert stored_with(interop_lab, marker) == []


def test_plaintext_auth_on_the_required_listener_is_refused(interop_lab: Lab) -> None:
    before = len(interop_lab.sessions)
    with _connect(interop_lab, "starttls-required", starttls=False) as client:
        client.ehlo()
        # AUTH is not advertised before TLS (RFC 4954 §4), so smtplib refuses locally...
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.login(LAB_USER, LAB_PASSWORD)
        # ...and a client that sends AUTH anyway is refused by the server (RFC 3207 §4).
        initial = base64.b64encode(f"\0{LAB_USER}\0{LAB_PASSWORD}".encode()).decode()
        code, _ = client.docmd("AUTH", f"PLAIN {initial}")
        assert code == 530
        # Still not logged in: MAIL is refused as well.
        assert client.mail(SENDER)[0] == 530
    (session,) = sessions_since(interop_lab, before)
    assert session.authenticated_as is None
    assert initial not in session.text()


def test_smtplib_bdat_by_hand_is_stored_as_chunked(interop_lab: Lab) -> None:
    marker = new_marker()
    message = sample_message(marker, "smtplib BDAT")
    first, second = message[:40], message[40:]
    with _connect(interop_lab, "starttls", starttls=True) as client:
        client.ehlo()
        assert client.has_extn("chunking")
        assert client.mail(SENDER)[0] == 250
        assert client.rcpt(RECIPIENT)[0] == 250
        # RFC 3030 §2: "BDAT <size>" is followed by exactly <size> octets, no dot-stuffing.
        client.send(f"BDAT {len(first)}\r\n".encode() + first)
        assert client.getreply()[0] == 250
        client.send(f"BDAT {len(second)} LAST\r\n".encode() + second)
        assert client.getreply()[0] == 250
    stored = assert_stored(interop_lab, marker, listener="starttls", encrypted=True)
    assert stored.chunked
    assert stored.data == message
