"""Message structure, parsed back with the stdlib email package (no network)."""

from __future__ import annotations

import email
import email.policy
import http.server
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from cdomail.cdo import (
    CdoCompatibilityWarning,
    CdoError,
    Message,
    cdoRefTypeId,
    cdoRefTypeLocation,
)
from cdomail.errors import InputError


def parse(msg: Message) -> EmailMessage:
    raw = msg.as_bytes().replace(b"\r\n", b"\n")  # as a mail store would keep it
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def structure(part: Any) -> object:
    if part.is_multipart():
        return (part.get_content_type(), [structure(p) for p in part.iter_parts()])
    return part.get_content_type()


def make(**props: str) -> Message:
    msg = Message()
    msg.From = '"Me" <me@example.com>'
    msg.To = "a@example.org"
    for name, value in props.items():
        setattr(msg, name, value)
    return msg


def test_text_only_is_a_single_text_part() -> None:
    parsed = parse(make(Subject="Report", TextBody="Hello\n"))
    assert structure(parsed) == "text/plain"
    assert parsed["Subject"] == "Report"
    assert parsed.get_content() == "Hello\n"
    assert parsed["MIME-Version"] == "1.0"


def test_html_with_auto_text_is_alternative() -> None:
    msg = make(HTMLBody="<p>Hi <b>you</b></p><script>x()</script>")
    assert msg.AutoGenerateTextBody
    assert msg.TextBody == "Hi you\n"
    parsed = parse(msg)
    assert structure(parsed) == ("multipart/alternative", ["text/plain", "text/html"])
    text, html = parsed.iter_parts()
    assert text.get_content() == "Hi you\n"
    assert "<b>you</b>" in html.get_content()


def test_setting_text_body_stops_auto_generation() -> None:
    msg = make(HTMLBody="<p>Hi</p>")
    msg.TextBody = "Custom"
    assert not msg.AutoGenerateTextBody
    text, _ = parse(msg).iter_parts()
    assert text.get_content() == "Custom\n"


def test_html_without_text_is_single_html_part() -> None:
    msg = make()
    msg.AutoGenerateTextBody = False
    msg.HTMLBody = "<p>Hi</p>"
    assert structure(parse(msg)) == "text/html"


def test_attachments_wrap_in_mixed(tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 binary \x00\xff" * 100)
    msg = make(HTMLBody="<p>See attached</p>")
    part = msg.AddAttachment(str(report))
    assert part.FileName == "report.pdf"
    parsed = parse(msg)
    assert structure(parsed) == (
        "multipart/mixed",
        [("multipart/alternative", ["text/plain", "text/html"]), "application/pdf"],
    )
    attachment = next(iter(parsed.iter_attachments()))
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content() == report.read_bytes()


def test_related_parts_make_related(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG fake")
    msg = make(HTMLBody='<p>Logo</p><img src="cid:logo1"><img src="banner.png">')
    msg.AddRelatedBodyPart(str(logo), "logo1", cdoRefTypeId)
    msg.AddRelatedBodyPart(str(logo), "banner.png", cdoRefTypeLocation)
    parsed = parse(msg)
    assert structure(parsed) == (
        "multipart/related",
        [("multipart/alternative", ["text/plain", "text/html"]), "image/png", "image/png"],
    )
    assert parsed.get_param("type") == "multipart/alternative"
    _, by_id, by_location = parsed.iter_parts()
    assert by_id["Content-ID"] == "<logo1>"
    assert by_location["Content-Location"] == "banner.png"
    assert by_id.get_content() == b"\x89PNG fake"


def test_addresses_accept_commas_and_semicolons_and_bcc_stays_hidden() -> None:
    msg = make(To='a@example.org; "Name, Jr." <b@example.org>', CC="c@example.org",
               BCC="hidden@example.org")
    envelope = msg.envelope()
    assert envelope.sender == "me@example.com"
    assert envelope.recipients == ["a@example.org", "b@example.org", "c@example.org",
                                   "hidden@example.org"]
    raw = msg.as_bytes()
    assert b"hidden@example.org" not in raw
    parsed = parse(msg)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["a@example.org", "b@example.org"]
    assert parsed["To"].addresses[1].display_name == "Name, Jr."


def test_sender_wins_for_mail_from_then_sendemailaddress() -> None:
    msg = make(Sender="agent@example.com")
    assert msg.envelope().sender == "agent@example.com"
    fallback = Message()
    fallback.To = "a@example.org"
    fallback.Configuration.Fields[
        "http://schemas.microsoft.com/cdo/configuration/sendemailaddress"] = "robot@example.com"
    fallback.Configuration.Fields.Update()
    assert fallback.envelope().sender == "robot@example.com"
    assert parse(fallback)["From"] == "robot@example.com"


def test_missing_sender_and_recipient_raise_cdo_errors() -> None:
    msg = Message()
    msg.To = "a@example.org"
    with pytest.raises(CdoError) as info:
        msg.envelope()
    assert info.value.hresult == 0x8004020D
    msg.From = "me@example.com"
    msg.To = ""
    with pytest.raises(CdoError) as info:
        msg.envelope()
    assert info.value.hresult == 0x8004020C
    assert info.value.number == -2147220980


def test_fields_headers_importance_priority_and_mdn() -> None:
    msg = make(Subject="x", Organization="ACME", Keywords="a, b")
    msg.Fields["urn:schemas:httpmail:importance"] = 2
    msg.Fields["urn:schemas:httpmail:priority"] = -1
    msg.Fields["urn:schemas:mailheader:X-Custom"] = "yes"
    msg.Fields.Update()
    msg.MDNRequested = True
    parsed = parse(msg)
    assert parsed["Importance"] == "high"
    assert parsed["Priority"] == "non-urgent"
    assert parsed["X-Custom"] == "yes"
    assert parsed["Organization"] == "ACME"
    assert parsed["Keywords"] == "a, b"
    assert parsed["Disposition-Notification-To"] == "Me <me@example.com>"
    # one field, two names
    assert msg.Fields["urn:schemas:mailheader:subject"].Value == "x"


def test_uncommitted_message_fields_are_not_used() -> None:
    msg = make()
    msg.Fields["urn:schemas:mailheader:X-Forgotten"] = "1"
    assert "X-Forgotten" not in parse(msg)


def test_header_injection_is_refused() -> None:
    msg = make()
    with pytest.raises(InputError):
        msg.Subject = "hi\r\nBcc: evil@example.org"


def test_charsets(tmp_path: Path) -> None:
    msg = make(TextBody="Grüße €")
    msg.TextBodyPart.Charset = "iso-8859-15"
    parsed = parse(msg)
    assert parsed.get_content_charset() == "iso-8859-15"
    assert parsed.get_content() == "Grüße €\n"
    with pytest.raises(CdoError) as info:
        msg.BodyPart.Charset = "klingon-42"
    assert info.value.hresult == 0x8004022B
    assert info.value.name == "CDO_E_INVALID_CHARSET"


def test_root_charset_applies_to_text_parts() -> None:
    msg = make(TextBody="é")
    msg.BodyPart.Charset = "iso-8859-1"
    assert parse(msg).get_content_charset() == "iso-8859-1"


def test_attachment_is_streamed_not_loaded(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"A" * 3_000_000)
    msg = make(TextBody="x")
    msg.AddAttachment(big.as_uri())  # file:// URL
    big.write_bytes(b"B" * 3_000_000)  # read at serialisation time, not at AddAttachment
    chunks = list(msg.iter_bytes())
    assert max(len(chunk) for chunk in chunks) < 200_000
    parsed = email.message_from_bytes(b"".join(chunks), policy=email.policy.default)
    assert next(iter(parsed.iter_attachments())).get_content() == b"B" * 3_000_000


def test_missing_attachment_file_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        make().AddAttachment(str(tmp_path / "nope.pdf"))
    with pytest.raises(InputError, match="only file paths"):
        make().AddAttachment("ftp://example.org/x")


@pytest.fixture
def web(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "page.html").write_text('<html><img src="img/a.gif"><p>Hello</p></html>')
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.gif").write_bytes(b"GIF89a-fake")
    (tmp_path / "doc.txt").write_bytes(b"remote document")
    seen: list[str | None] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_attachment_is_fetched_when_serialised(web: str) -> None:
    msg = make(TextBody="x")
    msg.AddAttachment(f"{web}/doc.txt", "user", "pw")
    parsed = parse(msg)
    attachment = next(iter(parsed.iter_attachments()))
    assert attachment.get_filename() == "doc.txt"
    assert attachment.get_content() == "remote document"


def test_create_mhtml_body_embeds_resources(web: str) -> None:
    msg = make()
    msg.CreateMHTMLBody(f"{web}/page.html")
    parsed = parse(msg)
    assert structure(parsed) == (
        "multipart/related",
        [("multipart/alternative", ["text/plain", "text/html"]), "image/gif"],
    )
    alternative, image = parsed.iter_parts()
    content_id = image["Content-ID"].strip("<>")
    html = list(alternative.iter_parts())[1].get_content()
    assert f'src="cid:{content_id}"' in html
    assert image.get_content() == b"GIF89a-fake"


def test_get_stream_reads_like_ado() -> None:
    msg = make(TextBody="body")
    stream = msg.GetStream()
    head = stream.ReadText(5)
    assert head == "From:"
    rest = stream.ReadText()
    assert "body" in rest
    assert stream.Read() == b""


def test_reply_reply_all_forward() -> None:
    msg = make(To="a@example.org, b@example.org", CC="c@example.org", Subject="Plan",
               TextBody="original text")
    msg.as_bytes()  # gives the message its Message-ID
    reply = msg.Reply()
    assert reply.Subject == "RE: Plan"
    assert reply.To == '"Me" <me@example.com>'
    assert "original text" in reply.TextBody
    assert parse(reply)["In-Reply-To"] == parse(msg)["Message-ID"]
    everyone = msg.ReplyAll()
    everyone.From = "a@example.org"
    assert everyone.envelope().recipients == ["me@example.com", "a@example.org",
                                              "b@example.org", "c@example.org"]
    forward = msg.Forward()
    forward.To = "d@example.org"
    parsed = parse(forward)
    assert parsed["Subject"] == "FW: Plan"
    embedded = next(iter(parsed.iter_attachments()))
    assert embedded.get_content_type() == "message/rfc822"
    assert embedded.get_content()["Subject"] == "Plan"


def test_send_warns_about_uncommitted_changes_and_checks_sendusing() -> None:
    msg = make()
    msg.Configuration.Fields["http://schemas.microsoft.com/cdo/configuration/sendusing"] = 2
    with pytest.warns(CdoCompatibilityWarning, match="never committed"), \
            pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == 0x80040220


def test_mime_formatted_false_is_plain_rfc822() -> None:
    msg = make(TextBody="plain words")
    msg.MimeFormatted = False
    raw = msg.as_bytes()
    assert b"MIME-Version" not in raw
    assert raw.endswith(b"plain words\r\n")
    msg.HTMLBody = "<p>x</p>"
    with pytest.raises(InputError, match="MimeFormatted"):
        msg.as_bytes()


def test_attachments_collection(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.csv"
    first.write_text("a")
    second.write_text("b")
    msg = make(TextBody="x")
    msg.AddAttachment(str(first))
    msg.AddAttachment(str(second))
    assert msg.Attachments.Count == 2
    assert msg.Attachments.Item(2).FileName == "b.csv"
    assert msg.Attachments.Item(2).ContentMediaType == "text/csv"
    msg.Attachments.Delete(1)
    assert [a.FileName for a in msg.Attachments] == ["b.csv"]
    with pytest.raises(IndexError):
        msg.Attachments.Item(2)
    saved = tmp_path / "copy.csv"
    msg.Attachments.Item(1).SaveToFile(str(saved))
    assert saved.read_text() == "b"
