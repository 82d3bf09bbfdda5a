"""The sync and async clients against the lab: inputs, AUTH, TLS options, batches."""

from __future__ import annotations

import asyncio
import base64
import io
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult

import cdomail
from cdomail import AsyncSMTPClient, SMTPClient, Transcript
from cdomail.lab import Lab, LabSMTP, cram_md5
from cdomail.testing import LAB_PASSWORD, LAB_USER


def make_message(subject: str = "hello", body: str = "hi\n.dot line\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Sender <sender@cdomail.test>"
    msg["To"] = "a@cdomail.test, B <b@cdomail.test>"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def client(lab: Lab, listener: str = "starttls", **options: object) -> SMTPClient:
    options.setdefault("cafile", str(lab.ca_path))
    return SMTPClient("localhost", lab.port(listener), **options)  # type: ignore[arg-type]


def parsed(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_send_reports_encryption_and_recipients(lab: Lab) -> None:
    with client(lab) as smtp:
        result = smtp.send(make_message())
    assert result.ok and result.encrypted
    assert result.tls is not None
    assert result.tls.version in ("TLSv1.2", "TLSv1.3") and result.tls.verified
    assert result.tls.fingerprint is not None and len(result.tls.fingerprint) == 95
    assert sorted(result.accepted) == ["a@cdomail.test", "b@cdomail.test"]
    assert result.refused == {}
    [stored] = lab.messages
    assert stored.encrypted and stored.mail_from == "sender@cdomail.test"
    assert parsed(stored.data).get_content() == "hi\n.dot line\n"


def test_bcc_goes_to_the_envelope_only(lab: Lab) -> None:
    msg = make_message()
    msg["Bcc"] = "hidden@cdomail.test"
    with client(lab) as smtp:
        result = smtp.send(msg)
    assert "hidden@cdomail.test" in result.accepted
    [stored] = lab.messages
    assert "hidden@cdomail.test" in stored.rcpt_tos
    assert b"hidden" not in stored.data and b"Bcc" not in stored.data


@pytest.mark.parametrize("form", ["bytes", "file", "chunks"])
def test_raw_inputs_stream_and_keep_their_bytes(lab: Lab, form: str) -> None:
    raw = (b"From: s@cdomail.test\nTo: r@cdomail.test\nBcc: secret@cdomail.test\n"
           b"Subject: raw\n\nline 1\n.line 2\nend")
    given: object = {"bytes": raw, "file": io.BytesIO(raw),
                     "chunks": [raw[i:i + 5] for i in range(0, len(raw), 5)]}[form]
    with client(lab) as smtp:
        result = smtp.send(given)  # type: ignore[arg-type]
    assert result.ok
    [stored] = lab.messages
    assert stored.rcpt_tos == ["r@cdomail.test", "secret@cdomail.test"]
    assert stored.data == (b"From: s@cdomail.test\r\nTo: r@cdomail.test\r\nSubject: raw\r\n\r\n"
                           b"line 1\r\n.line 2\r\nend\r\n")


def test_explicit_envelope_overrides_headers(lab: Lab) -> None:
    with client(lab) as smtp:
        smtp.send(make_message(), sender="", recipients=["only@cdomail.test"])
    [stored] = lab.messages
    assert stored.mail_from == "<>" and stored.rcpt_tos == ["only@cdomail.test"]


@pytest.mark.parametrize("chunking", [True, False], ids=["bdat", "data"])
def test_send_many_uses_one_connection(lab: Lab, chunking: bool) -> None:
    messages = [make_message(f"n{i}", f"body {i}\n.\n..\n") for i in range(25)]
    with client(lab, chunking=chunking) as smtp:
        results = smtp.send_many(messages)
    assert [r.ok for r in results] == [True] * 25
    assert {r.content_command for r in results} == {"BDAT" if chunking else "DATA"}
    assert lab.wait_sessions_closed()
    assert len(lab.sessions) == 1
    subjects = [parsed(m.data)["Subject"] for m in lab.messages]
    assert subjects == [f"n{i}" for i in range(25)]
    assert parsed(lab.messages[3].data).get_content() == "body 3\n.\n..\n"


@pytest.mark.lab(pipelining=False, chunking=False)
def test_lock_step_when_pipelining_is_not_offered(lab: Lab) -> None:
    with client(lab) as smtp:
        results = smtp.send_many([make_message(f"m{i}") for i in range(3)])
    assert all(r.ok for r in results)
    assert len(lab.messages) == 3


def test_send_many_reports_bad_input_per_message(lab: Lab) -> None:
    bad = make_message()
    del bad["To"]
    with client(lab) as smtp:
        results = smtp.send_many([make_message("one"), bad, make_message("three")])
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, cdomail.InputError)
    assert len(lab.messages) == 2


@pytest.mark.parametrize("chunking", [True, False], ids=["bdat", "data"])
def test_send_many_takes_a_per_message_envelope(lab: Lab, chunking: bool) -> None:
    items: list[cdomail.OutgoingMessage | EmailMessage] = [
        cdomail.OutgoingMessage(make_message("first"), sender="bounce@cdomail.test",
                                recipients=["x@cdomail.test", "y@cdomail.test"]),
        make_message("second"),  # envelope from its headers
        cdomail.OutgoingMessage(make_message("third"), sender="", recipients=["z@cdomail.test"]),
        # The lab offers no DSN, so it refuses NOTIFY: the parameter did reach the wire.
        cdomail.OutgoingMessage(make_message("dsn"), recipients=["d@cdomail.test"],
                                rcpt_options=["NOTIFY=NEVER"]),
        cdomail.OutgoingMessage(make_message("bad"), recipients="z@cdomail.test"),
        cdomail.OutgoingMessage(make_message("fourth"), mail_options=["BAD OPTION"]),
    ]
    transcript = Transcript()
    with client(lab, chunking=chunking, transcript=transcript) as smtp:
        results = smtp.send_many(items)
    assert [r.ok for r in results] == [True, True, True, False, False, False]
    assert isinstance(results[3].error, cdomail.RecipientsRefused)
    assert "RCPT TO:<d@cdomail.test> NOTIFY=NEVER" in transcript.render()
    assert "not one string" in str(results[4].error)
    assert "mail_options" in str(results[5].error)
    envelopes = [(m.mail_from, m.rcpt_tos) for m in lab.messages]
    assert envelopes == [
        ("bounce@cdomail.test", ["x@cdomail.test", "y@cdomail.test"]),
        ("sender@cdomail.test", ["a@cdomail.test", "b@cdomail.test"]),
        ("<>", ["z@cdomail.test"]),
    ]
    assert [parsed(m.data)["Subject"] for m in lab.messages] == ["first", "second", "third"]


def test_send_many_prepares_each_message_as_it_goes(lab: Lab) -> None:
    """Messages are taken from the iterable one at a time, while earlier ones are on the
    wire: a generator that fails half-way has its first messages delivered already, and
    the failure reaches the caller (the connection is dropped, never reused)."""
    delivered_when_asked: list[int] = []

    def messages() -> Iterator[EmailMessage]:
        for number in range(6):
            delivered_when_asked.append(len(lab.messages))
            if number == 5:
                raise RuntimeError("the caller's source broke")
            yield make_message(f"m{number}")

    with client(lab, chunking=False) as smtp:
        with pytest.raises(RuntimeError, match="source broke"):
            smtp.send_many(messages())
        assert not smtp.is_connected
    assert lab.wait_sessions_closed()
    # With DATA, message k+1 is asked for once message k's DATA went out, by when the
    # final reply of message k-2 has been read: the iterable is consumed as the batch
    # runs, not all at once before the first byte.
    assert delivered_when_asked[:2] == [0, 0]
    assert delivered_when_asked[5] >= 3
    # Message 3's content went out with message 4's MAIL/RCPT/DATA; 4 never got content.
    assert [parsed(m.data)["Subject"] for m in lab.messages] == [f"m{i}" for i in range(4)]


def test_large_message_streams_through_bdat_chunks(lab: Lab, tmp_path: Path) -> None:
    line = b"0123456789" * 9 + b"\r\n"
    body = line * 30000  # about 3 MB: several BDAT chunks
    path = tmp_path / "big.eml"
    path.write_bytes(b"From: s@cdomail.test\r\nTo: r@cdomail.test\r\nSubject: big\r\n\r\n" + body)
    with client(lab) as smtp, path.open("rb") as stream:
        result = smtp.send(stream)
    assert result.ok and result.size == path.stat().st_size
    [stored] = lab.messages
    assert stored.data == path.read_bytes()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_mechanisms(lab: Lab, mechanism: str) -> None:
    transcript = Transcript()
    with client(lab, username=LAB_USER, password=LAB_PASSWORD, auth_mechanisms=[mechanism],
                transcript=transcript) as smtp:
        smtp.send(make_message())
    assert lab.messages[0].authenticated_as == LAB_USER
    text = transcript.render()
    assert f"AUTH {mechanism}" in text
    for secret in (LAB_PASSWORD, base64.b64encode(LAB_PASSWORD.encode()).decode(),
                   base64.b64encode(f"\0{LAB_USER}\0{LAB_PASSWORD}".encode()).decode()):
        assert secret not in text


@pytest.mark.lab(auth_mechanisms={"CRAM-MD5": cram_md5})
def test_cram_md5(lab: Lab) -> None:
    with client(lab, username=LAB_USER, password=LAB_PASSWORD) as smtp:
        smtp.send(make_message())
    assert lab.messages[0].authenticated_as == LAB_USER


async def xoauth2(server: LabSMTP, args: list[str]) -> AuthResult:
    answer = base64.b64decode(args[1])
    if answer == b"user=me@cdomail.test\x01auth=Bearer good-token\x01\x01":
        return AuthResult(success=True, auth_data="me@cdomail.test")
    return AuthResult(success=False, handled=False)


@pytest.mark.lab(auth_mechanisms={"XOAUTH2": xoauth2})
def test_xoauth2(lab: Lab) -> None:
    with client(lab, username="me@cdomail.test", oauth2_token="good-token") as smtp:
        smtp.send(make_message())
    assert lab.messages[0].authenticated_as == "me@cdomail.test"
    with pytest.raises(cdomail.AuthenticationFailed) as failure:
        client(lab, username="me@cdomail.test", oauth2_token="bad-token").connect()
    assert "bad-token" not in str(failure.value)


def test_wrong_password_is_an_authentication_failure_without_secrets(lab: Lab) -> None:
    smtp = client(lab, username=LAB_USER, password="wrong-pass-123")
    with pytest.raises(cdomail.AuthenticationFailed) as failure:
        smtp.connect()
    assert failure.value.code == 535
    assert "wrong-pass-123" not in str(failure.value) + repr(failure.value) + repr(smtp)
    assert "wrong-pass-123" not in repr(smtp.config)
    assert not lab.messages


def test_plaintext_auth_only_when_explicitly_allowed(lab: Lab) -> None:
    with pytest.raises(cdomail.AuthenticationRefusedLocally):
        client(lab, "plain", tls="none", username=LAB_USER, password=LAB_PASSWORD).connect()
    assert all("AUTH" not in s.plaintext_commands() for s in lab.sessions)


@pytest.mark.lab(auth_require_tls=False)
def test_plaintext_auth_with_the_flag(lab: Lab) -> None:
    with client(lab, "plain", tls="none", username=LAB_USER, password=LAB_PASSWORD,
                allow_plaintext_auth=True) as smtp:
        result = smtp.send(make_message())
    assert not result.encrypted
    assert lab.messages[0].authenticated_as == LAB_USER


def test_credentials_but_no_auth_offered_fails_closed(lab: Lab) -> None:
    # The plain listener never offers AUTH before TLS; with tls=none the client
    # must not silently send unauthenticated (RFC 4954 §4: AUTH only if advertised).
    with Lab(users={}, listeners={"starttls": 0}, certs_dir=lab.ca_path.parent,
             state_dir=lab.state_dir / "no-auth") as bare:
        smtp = SMTPClient("localhost", bare.port("starttls"), cafile=str(lab.ca_path),
                          username="u", password="p")
        with pytest.raises(cdomail.AuthenticationRefusedLocally, match="no AUTH"):
            smtp.connect()
        assert bare.wait_sessions_closed()
        assert all("MAIL" not in [c for c, _ in s.commands()] for s in bare.sessions)


def test_fingerprint_pin(lab: Lab) -> None:
    with pytest.raises(cdomail.CertificateVerifyFailed):
        client(lab, cafile=None).connect()
    with client(lab, cafile=str(lab.ca_path)) as smtp:
        fingerprint = smtp.tls_info.fingerprint if smtp.tls_info else None
    assert fingerprint
    with client(lab, cafile=None, fingerprint=fingerprint.replace(":", "").lower()) as smtp:
        result = smtp.send(make_message())
    assert result.tls is not None and result.tls.verified_by == "fingerprint"
    wrong = "AA" + fingerprint[2:] if not fingerprint.startswith("AA") else "BB" + fingerprint[2:]
    with pytest.raises(cdomail.FingerprintMismatch):
        client(lab, cafile=None, fingerprint=wrong).connect()
    assert len(lab.messages) == 1


def test_unverified_tls_is_reported(lab: Lab) -> None:
    with client(lab, "smtps", tls="implicit", cafile=None, verify=False) as smtp:
        result = smtp.send(make_message())
    assert result.encrypted
    assert result.tls is not None and not result.tls.verified and result.tls.verified_by == "none"


def test_certificate_name_is_checked_against_the_configured_host(lab: Lab) -> None:
    with SMTPClient("127.0.0.1", lab.port("smtps"), tls="implicit",
                    cafile=str(lab.ca_path)) as smtp:
        assert smtp.tls_info is not None
    with pytest.raises(cdomail.CertificateVerifyFailed, match="not valid for the name"):
        SMTPClient("127.0.0.1", lab.port("smtps"), tls="implicit", cafile=str(lab.ca_path),
                   server_hostname="mail.elsewhere.test").connect()


def test_ssl_cert_file_is_honoured(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(lab.ca_path))
    with client(lab, cafile=None) as smtp:
        assert smtp.send(make_message()).tls is not None


@pytest.mark.lab(maximum_tls_version=ssl.TLSVersion.TLSv1_2)
def test_minimum_tls_version(lab: Lab) -> None:
    with client(lab) as smtp:
        assert smtp.send(make_message()).tls.version == "TLSv1.2"  # type: ignore[union-attr]
    with pytest.raises(cdomail.TLSHandshakeError):
        client(lab, minimum_tls_version="1.3").connect()


def test_bad_input_is_refused_before_any_byte(lab: Lab) -> None:
    with client(lab) as smtp:
        for sender in ("a@b.test\r\nRCPT TO:<x@y.test>", "not an address", "a@b.test>"):
            with pytest.raises(cdomail.InputError) as error:
                smtp.send(make_message(), sender=sender)
            assert error.value.field == "sender"
    assert lab.wait_sessions_closed()
    assert [c for c, _ in lab.sessions[0].commands() if c in ("MAIL", "RCPT")] == []


def test_connect_refused_and_greeting_timeout() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with pytest.raises(cdomail.ConnectError):
        SMTPClient("127.0.0.1", free_port, tls="none").connect()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(cdomail.ConnectTimeout, match="implicit TLS"):
            SMTPClient("127.0.0.1", silent.getsockname()[1], tls="starttls",
                       connect_timeout=0.3).connect()


@pytest.mark.lab(latency_ms=300)
def test_overall_deadline(lab: Lab) -> None:
    with pytest.raises(cdomail.TimeoutError):
        client(lab, deadline=0.5).connect()


def test_smtputf8_and_8bit(lab: Lab) -> None:
    msg = EmailMessage()
    msg["From"] = "sender@cdomail.test"
    msg["To"] = "jöran@exämple.test"
    msg["Subject"] = "Grüße"
    msg.set_content("Ünïcödé body\n", cte="8bit")
    with client(lab) as smtp:
        assert smtp.send(msg).ok
    [stored] = lab.messages
    assert stored.rcpt_tos == ["jöran@exämple.test"]
    assert "SMTPUTF8" in stored.mail_options and "BODY=8BITMIME" in stored.mail_options
    assert "Ünïcödé" in parsed(stored.data).get_content()


def test_async_clients_run_concurrently(lab: Lab) -> None:
    async def one(index: int) -> cdomail.SendResult:
        async with AsyncSMTPClient("localhost", lab.port("smtps"), tls="implicit",
                                   cafile=str(lab.ca_path), username=LAB_USER,
                                   password=LAB_PASSWORD) as smtp:
            return await smtp.send(make_message(f"async {index}"))

    async def main() -> list[cdomail.SendResult]:
        return list(await asyncio.gather(*(one(i) for i in range(6))))

    results = asyncio.run(main())
    assert all(r.ok and r.tls is not None and r.tls.mode == "implicit" for r in results)
    assert sorted(parsed(m.data)["Subject"] for m in lab.messages) == [
        f"async {i}" for i in range(6)]


def test_one_shot_send(lab: Lab) -> None:
    result = cdomail.send(make_message(), host="localhost", port=lab.port("starttls-required"),
                          cafile=str(lab.ca_path))
    assert result.ok and result.tls_mode == "starttls" and result.encrypted


@pytest.mark.parametrize(
    ("options", "field"),
    [({"tls": "sendtls"}, "tls"), ({"port": 0}, "port"), ({"password": "x"}, "username"),
     ({"fingerprint": "abc"}, "fingerprint"), ({"local_hostname": "a\r\nb"}, "local_hostname"),
     ({"minimum_tls_version": "1.4"}, "minimum_tls_version")],
)
def test_bad_configuration_names_the_field(options: dict[str, object], field: str) -> None:
    port = options.pop("port", 2525)
    with pytest.raises(cdomail.ConfigurationError) as error:
        SMTPClient("localhost", port, **options)  # type: ignore[arg-type]
    assert error.value.field == field


@pytest.mark.parametrize(("listener", "tls"), [("plain", "none"), ("smtps", "implicit")])
def test_abort_closes_at_once_without_quit_and_forgets_the_tls_facts(
    lab: Lab, listener: str, tls: str
) -> None:
    transcript = Transcript()
    smtp = client(lab, listener, tls=tls, transcript=transcript)
    smtp.connect()
    assert smtp.is_connected
    assert (smtp.tls_info is not None) == (listener == "smtps")
    smtp.abort()
    assert not smtp.is_connected
    assert smtp.tls_info is None  # a later plaintext reconnect must not look encrypted
    assert "QUIT" not in transcript.render()
    smtp.abort()  # closing twice is harmless
    [result] = smtp.send_many([make_message("after abort")])  # a new session, not the old
    assert result.ok
    smtp.close()
    assert "QUIT" in transcript.render()


def test_async_abort_closes_at_once_without_quit(lab: Lab) -> None:
    async def scenario() -> tuple[bool, str]:
        transcript = Transcript()
        smtp = AsyncSMTPClient("localhost", lab.port("plain"), tls="none",
                               transcript=transcript)
        await smtp.connect()
        await smtp.abort()
        return smtp.is_connected, transcript.render()

    connected, rendered = asyncio.run(scenario())
    assert connected is False
    assert "EHLO" in rendered and "QUIT" not in rendered
