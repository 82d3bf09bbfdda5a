"""cdomail.SMTPClient against a real Postfix, in every TLS mode, through every listener.

What Postfix itself recorded is the referee: its Received header (``with ESMTP`` / ``ESMTPS`` /
``ESMTPSA`` / ``UTF8SMTPS`` and ``using TLSv1.x with cipher ...``) and its per-session command
counts (``bdat=3``). The delivered Maildir bytes are compared with what was sent.
"""

from __future__ import annotations

import hashlib
import random
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import pytest

from ._delivered import as_stored, new_marker, parse_delivered, postfix_received
from ._postfix import LISTENERS, SASL_AUTHENTICATED_AS, SASL_PASSWORD, SASL_USERNAME
from ._programs import require_program, skip_or_fail

if TYPE_CHECKING:
    from ._postfix import PostfixInstance

pytestmark = pytest.mark.interop

SENDER = "sender@example.test"
RECIPIENT = "rcpt@example.test"
MODES = ("implicit", "starttls", "opportunistic", "none", "cdo", "auto")
# A client that waits for a plaintext greeting from the smtps listener waits in vain (Postfix
# waits for a ClientHello): keep that wait short.
_SHORT_CONNECT_TIMEOUT = 1.5


def _resolved(mode: str) -> str:
    """The concrete mode on our high ports (neither 25 nor 465): cdo -> implicit, auto -> starttls.

    CDO's smtpusessl means implicit TLS on every port but 25; ``auto`` uses implicit TLS only on
    465 (RFC 8314 §3.3) and STARTTLS elsewhere (architecture.md, ``TLSMode.resolve``).
    """
    return {"cdo": "implicit", "auto": "starttls"}.get(mode, mode)


def _expected(listener: str, mode: str) -> tuple[str, bool]:
    """(outcome, encrypted): the outcome is "sent" or the name of the cdomail error expected."""
    resolved = _resolved(mode)
    if resolved == "implicit":
        return ("sent", True) if listener == "smtps" else ("TLSHandshakeError", False)
    if listener == "smtps":
        return "ConnectTimeout", False
    if resolved == "starttls":
        return ("TLSRequired", False) if listener == "plain" else ("sent", True)
    if resolved == "opportunistic":
        return "sent", listener != "plain"
    # none
    return ("SenderRefused", False) if listener == "starttls-required" else ("sent", False)


def _client_api() -> tuple[Any, Any, Any]:
    """(SMTPClient, Transcript, errors module), or skip/fail while the client has not landed."""
    try:
        from cdomail import SMTPClient, errors
        from cdomail.transcript import Transcript
    except ImportError as error:
        skip_or_fail(f"cdomail.SMTPClient is not importable: {error}")
    return SMTPClient, Transcript, errors


def _client(postfix: PostfixInstance, listener: str, mode: str, **options: Any) -> Any:
    smtp_client, _, _ = _client_api()
    options.setdefault("cafile", str(postfix.ca_path))
    options.setdefault("connect_timeout", 10.0)
    options.setdefault("command_timeout", 30.0)
    return smtp_client(postfix.host, postfix.port(listener), tls=mode, **options)


def _raw_message(marker: str, subject: str) -> bytes:
    return (
        f"From: <{SENDER}>\r\n"
        f"To: <{RECIPIENT}>\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{marker}@example.test>\r\n"
        f"X-Interop-Marker: {marker}\r\n"
        "\r\n"
        "A line.\r\n"
        ".A line that starts with a dot (dot-stuffed in DATA, RFC 5321 §4.5.2).\r\n"
        "..\r\n"
        "Last line.\r\n"
    ).encode()


def _assert_tls_agrees(result: Any, received: Any, *, resolved: str) -> None:
    """SendResult's encryption facts must match what Postfix wrote in its Received header."""
    assert result.encrypted == received.encrypted
    if result.encrypted:
        assert result.tls.version == received.tls_version
        assert result.tls.cipher == received.cipher
        # TLSInfo.mode says how TLS started: opportunistic TLS starts with STARTTLS too.
        assert result.tls.mode == ("implicit" if resolved == "implicit" else "starttls")
        assert result.tls.verified
    else:
        assert result.tls is None
        assert received.tls_version is None


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("listener", LISTENERS)
def test_every_mode_through_every_listener(
    postfix: PostfixInstance, listener: str, mode: str
) -> None:
    _, _, errors = _client_api()
    outcome, encrypted = _expected(listener, mode)
    marker = new_marker()
    message = _raw_message(marker, f"{mode} via {listener}")
    timeout = _SHORT_CONNECT_TIMEOUT if outcome == "ConnectTimeout" else 10.0
    client = _client(postfix, listener, mode, connect_timeout=timeout)
    if outcome != "sent":
        with pytest.raises(getattr(errors, outcome)) as failure, client:
            client.send(message, sender=SENDER, recipients=[RECIPIENT])
        if outcome == "SenderRefused":
            assert failure.value.code == 530
        return
    with client:
        result = client.send(message, sender=SENDER, recipients=[RECIPIENT])
    assert result.ok
    assert result.tls_mode == _resolved(mode)
    assert list(result.accepted) == [RECIPIENT]
    delivered = postfix.wait_for_message(marker.encode())
    assert delivered.endswith(as_stored(message))
    received = postfix_received(delivered)
    assert received.protocol == ("ESMTPS" if encrypted else "ESMTP")
    _assert_tls_agrees(result, received, resolved=_resolved(mode))


def _rich_message(marker: str, attachment: bytes) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Ünïcödé Sender <{SENDER}>"
    message["To"] = f"Recipient <{RECIPIENT}>"
    message["Bcc"] = "hidden@example.test"
    message["Subject"] = "Grüße aus Köln – 日本語のテスト ✉"
    message["Message-ID"] = f"<{marker}@example.test>"
    message["X-Interop-Marker"] = marker
    message.set_content("Hällo Wörld!\nZweite Zeile: ½ € ✓\n.Punkt am Anfang\n")
    message.add_attachment(
        attachment, maintype="application", subtype="octet-stream", filename="großes.bin"
    )
    return message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("listener", "mode", "chunking", "authenticate"),
    [
        ("starttls", "starttls", True, True),
        ("starttls-required", "auto", True, True),
        ("smtps", "implicit", True, True),
        ("smtps", "cdo", False, False),
        ("plain", "none", True, False),
        ("starttls", "opportunistic", False, False),
    ],
)
def test_large_non_ascii_message_arrives_intact(
    postfix: PostfixInstance, listener: str, mode: str, chunking: bool, authenticate: bool
) -> None:
    _, transcript_class, _ = _client_api()
    if authenticate:
        require_program("saslpasswd2")
    marker = new_marker()
    attachment = random.Random(marker).randbytes(3 * 1024 * 1024)
    message = _rich_message(marker, attachment)
    transcript = transcript_class()
    credentials: dict[str, Any] = (
        {"username": SASL_USERNAME, "password": SASL_PASSWORD} if authenticate else {}
    )
    with _client(
        postfix, listener, mode, chunking=chunking, transcript=transcript, **credentials
    ) as client:
        result = client.send(message)
    assert result.ok
    assert sorted(result.accepted) == ["hidden@example.test", RECIPIENT]
    assert result.content_command == ("BDAT" if chunking else "DATA")

    delivered = postfix.wait_for_message(marker.encode())
    arrived = parse_delivered(delivered)
    assert arrived["Subject"] == message["Subject"]
    assert arrived["From"] == message["From"]
    assert arrived["Bcc"] is None
    assert b"hidden@example.test" not in delivered.split(b"\n\n", 1)[1]
    body = arrived.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content() == "Hällo Wörld!\nZweite Zeile: ½ € ✓\n.Punkt am Anfang\n"
    (part,) = list(arrived.iter_attachments())
    assert part.get_filename() == "großes.bin"
    payload = part.get_content()
    assert hashlib.sha256(payload).hexdigest() == hashlib.sha256(attachment).hexdigest()

    received = postfix_received(delivered)
    encrypted = listener != "plain"
    expected_protocol = "ESMTP" + ("S" if encrypted else "") + ("A" if authenticate else "")
    assert received.protocol == expected_protocol
    if authenticate:
        assert received.authenticated_sender == SASL_AUTHENTICATED_AS
    _assert_tls_agrees(result, received, resolved=_resolved(mode))

    counts = postfix.session_counts(received.queue_id)
    if chunking:
        assert counts.get("bdat", 0) >= 1
        assert "data" not in counts
    else:
        assert counts["data"] == 1
        assert "bdat" not in counts

    # PIPELINING (RFC 2920): MAIL and both RCPTs go out before their replies are read.
    lines = transcript.lines
    mail = next(i for i, line in enumerate(lines) if line.text.startswith("MAIL FROM:"))
    assert [line.direction for line in lines[mail : mail + 3]] == ["C", "C", "C"]
    assert all(line.text.startswith("RCPT TO:") for line in lines[mail + 1 : mail + 3])
    assert SASL_PASSWORD not in transcript.render()


UTF8_RECIPIENT = "jörg.müller@example.test"


def _assert_utf8_delivery(postfix: PostfixInstance, marker: str, result: Any) -> bytes:
    assert result.ok
    assert list(result.accepted) == [UTF8_RECIPIENT]
    delivered = postfix.wait_for_message(marker.encode())
    # RFC 6531 §3.7.3: Postfix records an SMTPUTF8 transaction as UTF8SMTPS.
    assert postfix_received(delivered).protocol == "UTF8SMTPS"
    assert f"Delivered-To: {UTF8_RECIPIENT}\n".encode() in delivered
    return delivered


@pytest.mark.parametrize("listener", ["starttls", "smtps"])
def test_smtputf8_envelope_recipient(postfix: PostfixInstance, listener: str) -> None:
    _client_api()
    marker = new_marker()
    # Only the envelope is non-ASCII: cdomail must still ask for SMTPUTF8 (RFC 6531 §3.4).
    message = (
        f"From: <{SENDER}>\r\nTo: undisclosed-recipients:;\r\nSubject: SMTPUTF8 envelope\r\n"
        f"X-Interop-Marker: {marker}\r\n\r\nFür Jörg.\r\n"
    ).encode()
    mode = "implicit" if listener == "smtps" else "starttls"
    with _client(postfix, listener, mode) as client:
        assert client.extensions.has("SMTPUTF8")
        result = client.send(message, sender=SENDER, recipients=[UTF8_RECIPIENT])
    delivered = _assert_utf8_delivery(postfix, marker, result)
    assert delivered.endswith(as_stored(message))


def test_smtputf8_address_in_headers(postfix: PostfixInstance) -> None:
    _client_api()
    marker = new_marker()
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = UTF8_RECIPIENT
    message["Subject"] = "SMTPUTF8 ✓"
    message["X-Interop-Marker"] = marker
    message.set_content("Für Jörg.\n")
    with _client(postfix, "starttls", "starttls") as client:
        result = client.send(message)
    delivered = _assert_utf8_delivery(postfix, marker, result)
    assert parse_delivered(delivered)["To"] == UTF8_RECIPIENT


def test_wrong_password_is_authentication_failed(postfix: PostfixInstance) -> None:
    _, _, errors = _client_api()
    require_program("saslpasswd2")
    client = _client(
        postfix, "starttls", "starttls", username=SASL_USERNAME, password="not-the-password"
    )
    with pytest.raises(errors.AuthenticationFailed) as failure, client:
        pass
    assert failure.value.code == 535
    assert "not-the-password" not in str(failure.value)


def test_credentials_never_cross_an_unencrypted_link(postfix: PostfixInstance) -> None:
    _, transcript_class, errors = _client_api()
    transcript = transcript_class()
    client = _client(
        postfix,
        "starttls",
        "none",
        username=SASL_USERNAME,
        password=SASL_PASSWORD,
        transcript=transcript,
    )
    with pytest.raises(errors.AuthenticationRefusedLocally), client:
        pass
    assert not any(line.text.startswith("AUTH") for line in transcript.lines)
