"""cdomail.StreamedMessage against the lab: structure, encodings, re-iteration, memory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

import cdomail
from cdomail import Attachment, SMTPClient, StreamedMessage
from cdomail.lab import Lab

SMALL_NAME = "Übersicht – März.txt"


def headers(subject: str = "Grüße aus Köln") -> EmailMessage:
    fields = EmailMessage()
    fields["From"] = "Jörg Sender <sender@cdomail.test>"
    fields["To"] = "a@cdomail.test"
    fields["Subject"] = subject
    return fields


def client(lab: Lab) -> SMTPClient:
    return SMTPClient("localhost", lab.port("starttls"), cafile=str(lab.ca_path))


def parsed(data: bytes) -> EmailMessage:
    # Given CRLF bytes, the parser keeps the CRs in text content: compare with LF line ends.
    msg = message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A ~3 MB binary file and a small text file with a non-ASCII name."""
    binary = tmp_path / "data.bin"
    binary.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # not a multiple of 57
    small = tmp_path / SMALL_NAME
    small.write_bytes("Zeile eins\nzweite Zeile: äöü\n".encode())
    return binary, small


def test_text_html_and_attachments_arrive_intact(lab: Lab, files: tuple[Path, Path]) -> None:
    binary, small = files
    message = StreamedMessage(
        headers(), text="Hallo,\nanbei die Dateien.\n", html="<p>Hallo, <b>anbei</b>.</p>\n",
        attachments=[binary, str(small)],
    )
    with client(lab) as smtp:
        result = smtp.send(message)
    assert result.ok and result.encrypted
    [stored] = lab.messages
    assert stored.rcpt_tos == ["a@cdomail.test"]
    assert stored.data.isascii()  # every non-ASCII header and body was encoded
    received = parsed(stored.data)
    assert received["Subject"] == "Grüße aus Köln"
    assert received["From"].addresses[0].display_name == "Jörg Sender"
    assert received.get_content_type() == "multipart/mixed"
    first = next(received.iter_parts())
    assert first.get_content_type() == "multipart/alternative"
    plain = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert plain is not None and plain.get_content() == "Hallo,\nanbei die Dateien.\n"
    assert html is not None and html.get_content() == "<p>Hallo, <b>anbei</b>.</p>\n"
    attached = list(received.iter_attachments())
    assert [part.get_filename() for part in attached] == ["data.bin", SMALL_NAME]
    assert [part.get_content_type() for part in attached] == [
        "application/octet-stream", "text/plain"]
    assert all(part["Content-Transfer-Encoding"] == "base64" for part in attached)
    assert attached[0].get_payload(decode=True) == binary.read_bytes()
    assert attached[1].get_payload(decode=True) == small.read_bytes()


def test_iterating_twice_gives_identical_crlf_bytes(files: tuple[Path, Path]) -> None:
    binary, small = files
    message = StreamedMessage(headers(), text="x\n", html="<p>x</p>", attachments=[binary, small])
    first = b"".join(message)
    second = b"".join(iter(message))
    assert first == second == message.as_bytes()
    assert b"\n" not in first.replace(b"\r\n", b"")  # CRLF line ends only
    assert max(len(line) for line in first.split(b"\r\n")) <= 78
    assert len([chunk for chunk in message]) > 10  # streamed in blocks, not one buffer


def test_attachments_are_read_when_sent_not_when_built(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"old contents\n")
    message = StreamedMessage(headers(), attachments=[path])
    path.write_bytes(b"new contents\n")
    with client(lab) as smtp:
        smtp.send(message)
    [stored] = lab.messages
    [attached] = parsed(stored.data).iter_attachments()
    assert attached.get_payload(decode=True) == b"new contents\n"


def test_structure_follows_the_bodies_given(tmp_path: Path) -> None:
    text_only = parsed(StreamedMessage(headers(), text="only text\n").as_bytes())
    assert text_only.get_content_type() == "text/plain"
    assert text_only.get_content() == "only text\n"
    assert text_only["MIME-Version"] == "1.0"
    both = parsed(StreamedMessage(headers(), text="t\n", html="<p>h</p>").as_bytes())
    assert both.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in both.iter_parts()] == ["text/plain", "text/html"]
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4 not really\n")
    bare = parsed(StreamedMessage(headers(), attachments=[path]).as_bytes())
    assert bare.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in bare.iter_parts()] == ["application/pdf"]


def test_date_and_message_id_are_added_unless_given() -> None:
    added = parsed(StreamedMessage(headers(), text="x").as_bytes())
    assert added["Date"] is not None
    assert str(added["Message-ID"]).endswith("@cdomail.test>")
    given = headers()
    given["Date"] = "Mon, 01 Jan 2024 10:00:00 +0000"
    given["Message-ID"] = "<fixed@cdomail.test>"
    kept = parsed(StreamedMessage(given, text="x").as_bytes())
    assert kept.get_all("Date") == ["Mon, 01 Jan 2024 10:00:00 +0000"]
    assert kept.get_all("Message-ID") == ["<fixed@cdomail.test>"]


def test_bcc_goes_to_the_envelope_only(lab: Lab) -> None:
    fields = headers()
    fields["Cc"] = "c@cdomail.test"
    fields["Bcc"] = "hidden@cdomail.test"
    with client(lab) as smtp:
        result = smtp.send(StreamedMessage(fields, text="x\n"))
    assert sorted(result.accepted) == ["a@cdomail.test", "c@cdomail.test", "hidden@cdomail.test"]
    [stored] = lab.messages
    assert "hidden@cdomail.test" in stored.rcpt_tos
    assert b"hidden" not in stored.data and b"Bcc" not in stored.data


def test_missing_or_unreadable_attachment_is_refused_before_connecting(
    lab: Lab, tmp_path: Path
) -> None:
    for bad in (tmp_path / "missing.pdf", tmp_path):  # absent; a folder
        with pytest.raises(cdomail.InputError, match=r"attachment") as error:
            StreamedMessage(headers(), text="x", attachments=[bad])
        assert error.value.field == "attachments"
    assert lab.sessions == []


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: StreamedMessage(headers()), "text"),
        (lambda: StreamedMessage(headers(), attachments="report.pdf"), "attachments"),
        (lambda: StreamedMessage("From: a@b.test", text="x"), "headers"),  # type: ignore[arg-type]
        (lambda: Attachment("a.bin", content_type="not a type"), "attachments"),
        (lambda: Attachment("a.eml", content_type="message/rfc822"), "attachments"),
        (lambda: Attachment("a.bin", filename="evil\r\nBcc: x@y.test"), "attachments"),
    ],
    ids=["nothing", "one-string", "not-headers", "bad-type", "composite-type", "crlf-name"],
)
def test_bad_input_names_the_field(build: object, field: str) -> None:
    assert callable(build)
    with pytest.raises(cdomail.InputError) as error:
        build()
    assert error.value.field == field


def test_headers_with_a_body_are_refused() -> None:
    with_body = headers()
    with_body.set_content("a body that would be lost")
    with pytest.raises(cdomail.InputError, match="has a body") as error:
        StreamedMessage(with_body, text="x")
    assert error.value.field == "headers"
    typed = headers()
    typed["Content-Type"] = "text/html"
    with pytest.raises(cdomail.InputError, match="Content-Type") as error:
        StreamedMessage(typed, text="x")
    assert error.value.field == "headers"


def test_attachment_defaults(tmp_path: Path) -> None:
    guessed = Attachment(tmp_path / "photo.JPG")
    assert guessed.filename == "photo.JPG" and guessed.content_type == "image/jpeg"
    assert Attachment("blob").content_type == "application/octet-stream"
    # A .eml file is still sent as base64, so it cannot be labelled message/rfc822.
    assert Attachment("mail.eml").content_type == "application/octet-stream"
    named = Attachment("x.bin", filename="Bericht.pdf", content_type="application/pdf")
    assert named.path == "x.bin" and named.filename == "Bericht.pdf"


# The memory check runs the client in a child process: the lab's server thread, in this
# process, holds the whole received message, which tracemalloc would count too.
_MEASURE_SEND = """
import json, sys, tracemalloc
from email.message import EmailMessage
import cdomail

port, cafile, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fields = EmailMessage()
fields["From"] = "sender@cdomail.test"
fields["To"] = "big@cdomail.test"
fields["Subject"] = "big attachment"
message = cdomail.StreamedMessage(fields, text="It is attached.\\n", attachments=[path])
with cdomail.SMTPClient("localhost", port, cafile=cafile) as client:
    tracemalloc.start()
    result = client.send(message)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
print(json.dumps({"ok": result.ok, "peak": peak}))
"""


@pytest.mark.lab(data_size_limit=64 * 1024 * 1024)
def test_memory_stays_flat_for_a_large_attachment(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "large.bin"
    digest = hashlib.sha256()
    with path.open("wb") as stream:
        for _ in range(30):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            stream.write(block)
    child = subprocess.run(
        [sys.executable, "-c", _MEASURE_SEND, str(lab.port("starttls")), str(lab.ca_path),
         str(path)],
        capture_output=True, timeout=100, check=False,
    )
    assert child.returncode == 0, child.stderr.decode(errors="replace")[-2000:]
    figures = json.loads(child.stdout)
    assert figures["ok"]
    assert figures["peak"] < 16 * 1024 * 1024, f"peak traced memory {figures['peak']} bytes"
    [stored] = lab.messages
    assert len(stored.data) > 40 * 1024 * 1024  # 30 MiB in base64
    start = stored.data.index(b"\r\n\r\n", stored.data.index(b'filename="large.bin"')) + 4
    end = stored.data.index(b"\r\n--", start)
    assert hashlib.sha256(base64.b64decode(stored.data[start:end])).digest() == digest.digest()
