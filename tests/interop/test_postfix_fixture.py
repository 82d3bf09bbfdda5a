"""Validate the private Postfix fixture with the standard library's smtplib.

These tests prove the fixture is what the cdomail tests assume: four listeners with the stated
TLS policies, AUTH only after TLS, CHUNKING and SMTPUTF8 offered, delivery into the Maildir, and
a Received header that tells the truth about TLS. They need nothing from cdomail.
"""

from __future__ import annotations

import smtplib
import ssl

import pytest

from ._delivered import as_stored, new_marker, postfix_received
from ._postfix import SASL_AUTHENTICATED_AS, SASL_PASSWORD, SASL_USERNAME, PostfixInstance
from ._programs import require_program

pytestmark = pytest.mark.interop

SENDER = "sender@example.test"
RECIPIENT = "rcpt@example.test"


def _message(marker: str, subject: str = "fixture check") -> bytes:
    return (
        f"From: Sender <{SENDER}>\r\n"
        f"To: Recipient <{RECIPIENT}>\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{marker}@example.test>\r\n"
        f"X-Interop-Marker: {marker}\r\n"
        "\r\n"
        "Hello from smtplib.\r\n"
    ).encode()


def _context(postfix: PostfixInstance) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(postfix.ca_path))


def test_plain_listener_offers_no_starttls_and_records_esmtp(postfix: PostfixInstance) -> None:
    marker = new_marker()
    with smtplib.SMTP(postfix.host, postfix.port("plain"), timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.has_extn("chunking")
        assert client.has_extn("pipelining")
        assert client.has_extn("smtputf8")
        client.sendmail(SENDER, [RECIPIENT], _message(marker))
    delivered = postfix.wait_for_message(marker.encode())
    received = postfix_received(delivered)
    assert received.protocol == "ESMTP"
    assert received.tls_version is None
    assert delivered.endswith(as_stored(_message(marker)))


def test_starttls_listener_delivers_in_plaintext_when_client_skips_tls(
    postfix: PostfixInstance,
) -> None:
    marker = new_marker()
    with smtplib.SMTP(postfix.host, postfix.port("starttls"), timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        # smtpd_tls_auth_only: no AUTH is offered before TLS.
        assert not client.has_extn("auth")
        client.sendmail(SENDER, [RECIPIENT], _message(marker))
    received = postfix_received(postfix.wait_for_message(marker.encode()))
    assert received.protocol == "ESMTP"
    assert not received.encrypted


@pytest.mark.parametrize("listener", ["starttls", "starttls-required"])
def test_starttls_records_esmtps_and_the_negotiated_version(
    postfix: PostfixInstance, listener: str
) -> None:
    marker = new_marker()
    with smtplib.SMTP(postfix.host, postfix.port(listener), timeout=10) as client:
        client.starttls(context=_context(postfix))
        assert isinstance(client.sock, ssl.SSLSocket)
        negotiated = client.sock.version()
        cipher = client.sock.cipher()
        client.sendmail(SENDER, [RECIPIENT], _message(marker))
    received = postfix_received(postfix.wait_for_message(marker.encode()))
    assert received.protocol == "ESMTPS"
    assert received.tls_version == negotiated
    assert cipher is not None
    assert received.cipher == cipher[0]


def test_starttls_required_refuses_mail_before_tls(postfix: PostfixInstance) -> None:
    with (
        smtplib.SMTP(postfix.host, postfix.port("starttls-required"), timeout=10) as client,
        pytest.raises(smtplib.SMTPSenderRefused) as refused,
    ):
        client.sendmail(SENDER, [RECIPIENT], _message(new_marker()))
    assert refused.value.smtp_code == 530


def test_smtps_listener_speaks_tls_from_the_first_byte(postfix: PostfixInstance) -> None:
    marker = new_marker()
    with smtplib.SMTP_SSL(
        postfix.host, postfix.port("smtps"), context=_context(postfix), timeout=10
    ) as client:
        assert isinstance(client.sock, ssl.SSLSocket)
        negotiated = client.sock.version()
        client.ehlo()
        assert not client.has_extn("starttls")
        client.sendmail(SENDER, [RECIPIENT], _message(marker))
    received = postfix_received(postfix.wait_for_message(marker.encode()))
    assert received.protocol == "ESMTPS"
    assert received.tls_version == negotiated


def test_smtps_listener_rejects_a_plaintext_client(postfix: PostfixInstance) -> None:
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)):
        # Postfix waits for a ClientHello and never sends a plaintext greeting.
        smtplib.SMTP(postfix.host, postfix.port("smtps"), timeout=1)


@pytest.mark.parametrize("listener", ["starttls", "starttls-required", "smtps"])
def test_auth_after_tls_records_esmtpsa(postfix: PostfixInstance, listener: str) -> None:
    require_program("saslpasswd2")
    marker = new_marker()
    client: smtplib.SMTP
    if listener == "smtps":
        client = smtplib.SMTP_SSL(
            postfix.host, postfix.port(listener), context=_context(postfix), timeout=10
        )
    else:
        client = smtplib.SMTP(postfix.host, postfix.port(listener), timeout=10)
        client.starttls(context=_context(postfix))
    with client:
        client.ehlo()
        assert "PLAIN" in client.esmtp_features["auth"].split()
        client.login(SASL_USERNAME, SASL_PASSWORD)
        client.sendmail(SENDER, [RECIPIENT], _message(marker))
    received = postfix_received(postfix.wait_for_message(marker.encode()))
    assert received.protocol == "ESMTPSA"
    assert received.authenticated_sender == SASL_AUTHENTICATED_AS


def test_auth_with_a_wrong_password_is_refused_with_535(postfix: PostfixInstance) -> None:
    require_program("saslpasswd2")
    with smtplib.SMTP(postfix.host, postfix.port("starttls"), timeout=10) as client:
        client.starttls(context=_context(postfix))
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(SASL_USERNAME, "not-the-password")
    assert refused.value.smtp_code == 535


def test_smtputf8_address_is_delivered_and_recorded(postfix: PostfixInstance) -> None:
    marker = new_marker()
    recipient = "jörg@example.test"
    message = (
        f"From: {SENDER}\r\nTo: {recipient}\r\nSubject: Grüße\r\n"
        f"X-Interop-Marker: {marker}\r\n\r\nÄ body.\r\n"
    ).encode()
    with smtplib.SMTP(postfix.host, postfix.port("starttls"), timeout=10) as client:
        client.starttls(context=_context(postfix))
        client.ehlo()
        client.sendmail(SENDER, [recipient], message, mail_options=["SMTPUTF8"])
    delivered = postfix.wait_for_message(marker.encode())
    assert postfix_received(delivered).protocol == "UTF8SMTPS"
    assert f"Delivered-To: {recipient}".encode() in delivered
    assert delivered.endswith(as_stored(message))


def test_bdat_is_accepted_and_logged(postfix: PostfixInstance) -> None:
    # smtplib has no BDAT, so speak RFC 3030 by hand: "BDAT <size> LAST" then exactly size bytes.
    marker = new_marker()
    message = _message(marker, subject="chunked")
    with smtplib.SMTP(postfix.host, postfix.port("plain"), timeout=10) as client:
        client.ehlo()
        assert client.mail(SENDER)[0] == 250
        assert client.rcpt(RECIPIENT)[0] == 250
        client.send(f"BDAT {len(message)} LAST\r\n".encode() + message)
        code, _ = client.getreply()
        assert code == 250
    delivered = postfix.wait_for_message(marker.encode())
    assert delivered.endswith(as_stored(message))
    postfix.wait_for_log(r"postfix/plain/smtpd\[\d+\]: disconnect from .* bdat=1 ")
