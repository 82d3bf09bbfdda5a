"""The direct MIME writer (issue 13: no header round trip through ``email.headerregistry``).

Each message is written twice from the same state -- by ``Message.as_bytes()`` (the direct
writer) and by the stdlib-header builder it replaced (``_legacy_mime``) -- and both outputs are
parsed with the stdlib ``email`` package: structure, every decoded header, every parameter but
the boundary, and every body must agree; text bodies must be byte-identical. Where the old
builder wrote a header the parser finds defective, the new one must write it without defect.
"""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdomail.cdo import Message, cdoRefTypeId, cdoRefTypeLocation
from cdomail.cdo._headers import header_line
from cdomail.lab import Lab

from ._helpers import lab_message
from ._legacy_mime import legacy_bytes

DATE = "urn:schemas:mailheader:date"


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _reading(value: Any) -> object:
    """What a reader takes from a header value, without blanks at the edges of words.

    Both builders get the same value; the stdlib's parser treats blanks at the edges of an
    encoded-word differently from literal ones (a display name ``"¡ "`` is written exactly, but
    read back as ``"¡ "`` from one form and ``"¡"`` from the other). No reader gives them meaning.
    """
    addresses = getattr(value, "addresses", None)
    if addresses is not None:
        return [(a.display_name.strip(), a.addr_spec) for a in addresses]
    return str(value).strip()


def describe(part: EmailMessage) -> dict[str, Any]:
    """What a reader sees in a part: headers (decoded), parameters, content; no boundary."""
    headers = [
        (name.lower(), _reading(value), bool(getattr(value, "defects", ())))
        for name, value in part.items()
        if name.lower() != "content-type"
    ]
    params = {k: v for k, v in part.get_params(header="content-type") or [] if k != "boundary"}
    described: dict[str, Any] = {
        "type": part.get_content_type(),
        "params": params,
        "headers": headers,
        "defects": [type(d).__name__ for d in part.defects],
    }
    if part.is_multipart():
        described["children"] = [describe(child) for child in part.iter_parts()]  # type: ignore[arg-type]
    else:
        described["raw"] = part.get_payload(decode=False)
        described["content"] = part.get_payload(decode=True)
    return described


def assert_equivalent(msg: Message) -> bytes:
    msg.Fields.set_committed(DATE, "Tue, 01 Dec 2026 00:00:00 +0000")  # both writes, one date
    new = msg.as_bytes()
    old = legacy_bytes(msg)
    new_tree, old_tree = describe(parse(new)), describe(parse(old))
    new_headers, old_headers = new_tree.pop("headers"), old_tree.pop("headers")
    assert new_tree == old_tree
    assert [name for name, _, _ in new_headers] == [name for name, _, _ in old_headers]
    for (name, new_value, new_defective), (_, old_value, old_defective) in zip(
        new_headers, old_headers, strict=True
    ):
        assert not new_defective, name
        if not old_defective:  # where the old builder wrote a correct header, the same reading
            assert new_value == old_value, name
    assert new.isascii()
    assert b"\n" not in new.replace(b"\r\n", b"")
    for line in new.split(b"\r\n"):
        assert len(line) <= 998  # RFC 5322 §2.1.1 MUST
    return new


def make(**props: str) -> Message:
    msg = Message()
    msg.From = '"Me" <me@example.com>'
    msg.To = "a@example.org"
    for name, value in props.items():
        setattr(msg, name, value)
    return msg


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_plain_text_is_equivalent_and_fits_78_columns() -> None:
    raw = assert_equivalent(make(Subject="Report", TextBody="Hello\n"))
    assert all(len(line) <= 78 for line in header_lines(raw))
    assert b"\r\nSubject: Report\r\n" in raw


def test_html_with_generated_text_is_equivalent() -> None:
    assert_equivalent(make(Subject="Hi", HTMLBody="<p>Hi <b>you</b></p>"))


def test_html_only_is_equivalent() -> None:
    msg = make(Subject="Hi")
    msg.AutoGenerateTextBody = False
    msg.HTMLBody = "<p>" + "long line " * 30 + "é</p>"
    assert_equivalent(msg)


@pytest.mark.parametrize(
    "name",
    ["report.pdf", "a b é.txt", "Übersicht März 2026.xlsx", "x" * 120 + ".bin", 'q"uote.txt'],
)
def test_attachments_are_equivalent(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"%PDF binary \x00\xff" * 300)
    msg = make(Subject="Attached", HTMLBody="<p>See attached</p>")
    msg.AddAttachment(str(path))
    raw = assert_equivalent(msg)
    [attachment] = parse(raw).iter_attachments()
    assert attachment.get_filename() == name
    assert attachment.get_payload(decode=True) == path.read_bytes()


def test_related_parts_are_equivalent(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG fake" * 50)
    msg = make(HTMLBody='<p>Logo</p><img src="cid:logo1"><img src="banner.png">')
    msg.AddRelatedBodyPart(str(logo), "logo1", cdoRefTypeId)
    msg.AddRelatedBodyPart(str(logo), "banner.png", cdoRefTypeLocation)
    msg.AddAttachment(str(logo))
    assert_equivalent(msg)


@pytest.mark.parametrize(
    "subject",
    [
        "Réport über alles " * 5,
        "日本語の件名です" * 6,
        "emoji 📨 at the end 📨",
        "plain ascii but long " * 8,
        "  leading and trailing spaces  ",
        "Ünïcödé",
    ],
)
def test_non_ascii_and_long_subjects_are_equivalent(subject: str) -> None:
    raw = assert_equivalent(make(Subject=subject, TextBody="x\n"))
    assert parse(raw)["Subject"].strip() == subject.strip()  # a parser drops leading blanks
    assert all(len(line) <= 78 for line in header_lines(raw))


def test_non_ascii_subject_uses_b_encoded_words_of_at_most_75_characters() -> None:
    raw = make(Subject="Réport über alles " * 5).as_bytes()
    words = [w for line in header_lines(raw) for w in line.split() if w.startswith(b"=?")]
    assert words and all(w.startswith(b"=?utf-8?B?") and len(w) <= 75 for w in words)


def test_non_ascii_names_and_long_recipient_lists_are_equivalent() -> None:
    msg = make(TextBody="Grüße\n" * 3, Organization="Société Générale", Keywords="a, b, ç")
    msg.From = '"Müller, Jörg" <joerg@example.com>'
    msg.To = ", ".join(f'"Person {i}" <person{i}@example.org>' for i in range(12))
    msg.CC = "Zoë <zoe@example.org>; plain@example.org"
    msg.ReplyTo = '"日本" <jp@example.org>'
    msg.Fields.set_committed("urn:schemas:mailheader:x-custom", "väl ue")
    msg.MDNRequested = True
    msg.Fields.set_committed("urn:schemas:httpmail:importance", 2)
    raw = assert_equivalent(msg)
    parsed = parse(raw)
    assert parsed["From"].addresses[0].display_name == "Müller, Jörg"
    assert len(parsed["To"].addresses) == 12


def test_charsets_and_quoted_printable_bodies_are_byte_identical() -> None:
    msg = make(Subject="Latin-1", TextBody="Ça coûte 5 € — " + "long " * 30 + "\r\nend\rx")
    msg.TextBodyPart.Charset = "iso-8859-1"
    assert_equivalent(msg)


def test_plain_ascii_text_not_mime_formatted_is_equivalent() -> None:
    msg = make(TextBody="old style\n")
    msg.MimeFormatted = False
    raw = assert_equivalent(msg)
    assert b"MIME-Version" not in raw


def test_forward_embeds_the_original_equivalently(tmp_path: Path) -> None:
    original = make(Subject="Original", TextBody="body\n")
    original.Fields.set_committed(DATE, "Tue, 01 Dec 2026 00:00:00 +0000")
    forward = original.Forward()
    forward.From = "me@example.com"
    forward.To = "b@example.org"
    assert_equivalent(forward)


def test_header_line_falls_back_to_the_stdlib_for_what_it_cannot_write() -> None:
    # A word longer than a line cannot be folded at a space: the stdlib encodes it.
    line = header_line("Subject", "x" * 200)
    assert all(len(part) <= 78 for part in line.split(b"\r\n"))
    assert parse(line + b"\r\nbody")["Subject"] == "x" * 200


_header_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=150
)


@settings(max_examples=60, deadline=None)
@given(subject=_header_text, name=_header_text, body=st.text(max_size=300))
def test_any_subject_name_and_body_is_equivalent(subject: str, name: str, body: str) -> None:
    msg = make(Subject=subject, TextBody=body.replace("\0", ""))
    msg.From = f'"{name.replace(chr(34), "").replace(chr(92), "")}" <me@example.com>'
    raw = assert_equivalent(msg)
    assert all(len(line) <= 78 for line in header_lines(raw) if b"=?" in line or b" " in line)


def test_send_looks_the_host_name_up_once_per_process(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab_message(lab, "plain", port=25, use_ssl=False).Send()  # warms the cache if it is cold
    calls: list[str] = []
    real = socket.getfqdn

    def counting(name: str = "") -> str:
        calls.append(name)
        return real(name)

    monkeypatch.setattr(socket, "getfqdn", counting)
    for _ in range(3):
        lab_message(lab, "plain", port=25, use_ssl=False).Send()
    assert len(lab.messages) == 4
    assert calls == []  # before: two lookups per Send (Message-ID and EHLO)
