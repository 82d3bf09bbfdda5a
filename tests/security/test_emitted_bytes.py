"""What the client emits (command injection, header smuggling, dot-stuffing per RFC 5321 §4.5.2,
line lengths per §4.5.3.1), judged from the server's raw record."""

from __future__ import annotations

import json
import logging
import re
import traceback
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from cdomail import Transcript
from cdomail.errors import AuthenticationFailed, CdoMailError, InputError
from tests._server import CertificateSet, Script, TLSSetup, split_data_stream
from tests._server.fixtures import ServerFactory

from .helpers import (
    MESSAGE,
    PASSWORD,
    USERNAME,
    assert_no_secret,
    data_lines,
    make_client,
    smtp_verbs,
)

INJECTION = "\r\nRCPT TO:<evil@example.net>"


@pytest.mark.parametrize(
    ("argument", "value", "field"),
    [
        ("sender", "a@example.org" + INJECTION, "sender"),
        ("recipients", ["b@example.org" + INJECTION], "recipient"),
        ("recipients", ["b@exam\x00ple.org"], "recipient"),
        ("recipients", ["b@example\x1b.org"], "recipient"),
        ("mail_options", ["BODY=8BITMIME" + INJECTION], "mail_options"),
        ("rcpt_options", ["NOTIFY=NEVER\nDATA"], "rcpt_options"),
    ],
)
def test_control_characters_in_commands(
    hostile: ServerFactory, certs: CertificateSet, argument: str, value: Any, field: str
) -> None:
    server = hostile(Script())
    client = make_client(server, certs, tls="none")
    client.connect()
    with pytest.raises(InputError) as info:
        client.send(MESSAGE, **{argument: value})
    assert type(info.value) is InputError
    assert info.value.field == field
    client.close()
    assert server.settle()
    assert smtp_verbs(server) in (["EHLO"], ["EHLO", "QUIT"])
    assert b"evil" not in server.raw


def test_control_characters_in_ehlo_name(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    server = hostile(Script())
    with pytest.raises(InputError) as info:
        make_client(server, certs, tls="none", local_hostname="me\r\nMAIL FROM:<x@y>")
    assert info.value.field == "local_hostname"
    assert server.connections == 0


@pytest.mark.parametrize(
    "message",
    [
        b"From: a@example.org\r\nRCPT TO:<evil@example.net>\r\nTo: b@example.org\r\n\r\nhi\r\n",
        b"From: a@example.org\rRCPT TO:<evil@example.net>\r\nTo: b@example.org\r\n\r\nhi\r\n",
        "compat32",
        "subject-lf",
    ],
    ids=["raw-crlf", "raw-bare-cr", "compat32", "subject-lf"],
)
def test_line_breaks_in_header_values(
    hostile: ServerFactory, certs: CertificateSet, message: bytes | str
) -> None:
    payload: bytes | EmailMessage
    if message == "compat32":
        payload = EmailMessage(policy=policy.compat32)
        payload["From"] = "a@example.org" + INJECTION
        payload["To"] = "b@example.org"
        payload.set_payload("hi\n")
    elif message == "subject-lf":
        payload = EmailMessage()
        payload["Subject"] = "\n"  # accepted by the email package, emitted as a bare LF
        payload["From"] = "a@example.org"
        payload["To"] = "b@example.org"
        payload.set_payload("hi\n")
    else:
        assert isinstance(message, bytes)
        payload = message
    server = hostile(Script())
    client = make_client(server, certs, tls="none")
    try:
        with client:
            client.send(payload)
    except InputError:
        pass  # rejecting is as good as encoding
    assert server.settle()
    assert smtp_verbs(server).count("RCPT") <= 1
    assert all(b"evil" not in line.data for line in server.lines if line.kind == "command")
    for body in server.bodies:
        headers = body.split(b"\r\n\r\n", 1)[0]
        names = [line.split(b":", 1)[0] for line in headers.split(b"\r\n")]
        assert b"RCPT TO" not in names
        assert {b"From", b"To"} <= set(names), "a header was pushed out of the header block"


@pytest.mark.parametrize(
    "header",
    [
        b"From: alice@example.org)<bob@example.org>\r\nTo: carol@example.org\r\n",
        b"From: alice@example.org\r\nTo: carol@example.org)<mallory@example.net>\r\n",
    ],
    ids=["sender", "recipient"],
)
def test_envelope_from_malformed_headers(
    hostile: ServerFactory, certs: CertificateSet, header: bytes
) -> None:
    server = hostile(Script())
    client = make_client(server, certs, tls="none")
    with pytest.raises(InputError) as info:
        client.send(header + b"\r\nhello\r\n")
    assert type(info.value) is InputError
    assert info.value.field in ("from", "to")
    assert server.connections == 0


SMUGGLING = (
    b"From: a@example.org\r\nTo: b@example.org\r\n\r\n"
    b"bare LF\nbare CR\rdot-LF\n.\nCR-dot\r.\rLF-dot-CRLF\n.\r\nCRLF-dot-CR\r\n.\r"
    b"CRCRLF\r\r\nMAIL FROM:<smuggled@example.net>\r\nend"
)


@pytest.mark.parametrize("strict", [True, False], ids=["strict-server", "lenient-server"])
def test_smuggling_sequences(
    hostile: ServerFactory, certs: CertificateSet, strict: bool
) -> None:
    server = hostile(Script(strict=strict, capabilities=("8BITMIME",)))
    with make_client(server, certs, tls="none", chunking=False) as client:
        client.send(SMUGGLING)
    assert server.settle()
    assert "bare-lf" not in server.events
    assert smtp_verbs(server) == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    expected = SMUGGLING.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    assert server.bodies == [expected + b"\r\n"]
    wire = b"".join(data_lines(server))
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", wire) is None
    assert split_data_stream(wire, lenient=True) == ([expected + b"\r\n"], b"")


def test_leading_dots_doubled(hostile: ServerFactory, certs: CertificateSet) -> None:

    body = b"From: a@example.org\r\nTo: b@example.org\r\n\r\n.\r\n..\r\n.hidden\r\nx.\r\n"
    server = hostile(Script())
    with make_client(server, certs, tls="none", chunking=False) as client:
        client.send(body)
    assert server.settle()
    assert data_lines(server)[-5:] == [b"..\r\n", b"...\r\n", b"..hidden\r\n", b"x.\r\n", b".\r\n"]
    assert server.bodies == [body]


def test_final_crlf_added(hostile: ServerFactory, certs: CertificateSet) -> None:

    server = hostile(Script(strict=True))
    with make_client(server, certs, tls="none") as client:
        client.send(MESSAGE + b"no newline at the end")
    assert server.settle()
    assert data_lines(server)[-2:] == [b"no newline at the end\r\n", b".\r\n"]
    assert server.bodies == [MESSAGE + b"no newline at the end\r\n"]


@pytest.mark.parametrize("kind", ["email-message", "raw-bytes"])
def test_long_lines(hostile: ServerFactory, certs: CertificateSet, kind: str) -> None:
    long_line = "word " * 400  # 2000 characters, one line
    server = hostile(Script())
    client = make_client(server, certs, tls="none")
    if kind == "email-message":
        message = EmailMessage()
        message["From"] = "a@example.org"
        message["To"] = "b@example.org"
        message.set_content(long_line)
        with client:
            client.send(message)
        assert server.settle()
        assert len(server.bodies) == 1
        received = message_from_bytes(server.bodies[0], policy=policy.default)
        assert isinstance(received, EmailMessage)
        assert received.get_content().rstrip("\r\n") == long_line
    else:
        raw = b"From: a@example.org\r\nTo: b@example.org\r\n\r\n" + long_line.encode()
        with pytest.raises(InputError) as info:
            client.send(raw)
        assert info.value.field == "body"
        client.close()
        assert server.settle()
        assert server.bodies == []
    assert all(len(line.data) <= 1000 for line in server.lines)


@pytest.mark.parametrize("pipelining", [False, True])
def test_lockstep_without_pipelining(
    hostile: ServerFactory, certs: CertificateSet, pipelining: bool
) -> None:
    capabilities = ("PIPELINING", "8BITMIME") if pipelining else ("8BITMIME",)
    server = hostile(Script(strict=True, capabilities=capabilities))
    with make_client(server, certs, tls="none") as client:
        results = client.send_many([MESSAGE, MESSAGE, MESSAGE])
    assert [r.error for r in results] == [None, None, None]
    assert server.settle()
    assert not [e for e in server.events if e.startswith("sync-error")]
    assert server.bodies == [MESSAGE] * 3


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("succeed", [True, False], ids=["accepted", "refused"])
def test_no_secret_in_any_output(
    hostile: ServerFactory,
    certs: CertificateSet,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    mechanism: str,
    succeed: bool,
) -> None:
    credentials = (USERNAME, PASSWORD if succeed else "something else")
    script = Script(
        tls=TLSSetup.IMPLICIT, capabilities=(f"AUTH {mechanism}",), credentials=credentials
    )
    server = hostile(script)
    transcript = Transcript()
    caplog.set_level(logging.DEBUG)
    client = make_client(
        server,
        certs,
        tls="implicit",
        username=USERNAME,
        password=PASSWORD,
        auth_mechanisms=(mechanism,),
        transcript=transcript,
    )
    outputs: dict[str, str] = {}
    try:
        with client:
            result = client.send(MESSAGE)
            outputs["result"] = repr(result) + str(result) + json.dumps(result.to_dict())
    except AuthenticationFailed as error:
        assert not succeed
        outputs["error"] = str(error) + repr(error) + repr(error.args)
        outputs["traceback"] = "".join(traceback.format_exception(error))
    except CdoMailError:
        raise
    else:
        assert succeed
    outputs["transcript"] = transcript.render() + json.dumps(transcript.to_list())
    outputs["logging"] = caplog.text
    captured = capsys.readouterr()
    outputs["stdout/stderr"] = captured.out + captured.err
    outputs["client"] = repr(client) + repr(client.config)
    for where, text in outputs.items():
        assert_no_secret(text, where)
    assert server.settle()
    # The server did get the secret (inside TLS), so the search above searched for real.
    assert any(line.tls for line in server.lines if line.verb == "AUTH")
