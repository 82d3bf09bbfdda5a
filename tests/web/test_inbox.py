"""The inbox page over a real lab: list, live rows, message view, search, delete."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage

from starlette.testclient import TestClient

from cdomail.lab import Lab
from cdomail.testing import LAB_PASSWORD, LAB_USER

from .conftest import csrf_of, send, simple_message


def _rich_message() -> EmailMessage:
    message = simple_message("Quarterly report", text="see the attachment")
    message.add_alternative("<p>Hello <b>Bob</b></p>", subtype="html")
    message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf",
                           filename="report.pdf")
    return message


def test_list_shows_each_message_newest_first_with_its_journey(client: TestClient,
                                                                lab: Lab) -> None:
    send(lab, simple_message("first over STARTTLS"))
    send(lab, simple_message("second in plaintext"), listener="plain", login=False)
    page = client.get("/inbox").text
    first, second = page.index("first over STARTTLS"), page.index("second in plaintext")
    assert second < first  # newest first
    rows = re.findall(r'<tr class="message-row".*?</tr>', page, re.S)
    assert len(rows) == 2
    plaintext_row, tls_row = rows
    assert ">plain<" in plaintext_row and ">NO<" in plaintext_row and "nobody" in plaintext_row
    assert ">starttls-required<" in tls_row and ">yes<" in tls_row
    assert re.search(r"TLSv1\.[23] \S+", tls_row)  # version and cipher suite
    assert LAB_USER in tls_row
    assert "alice@example.com" in tls_row and "bob@example.com" in tls_row
    assert f"{len(lab.messages[0].data)} B" in tls_row
    received = lab.messages[0].received_at
    assert abs(received - time.time()) < 60
    assert time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(received)) in tls_row


def test_rows_endpoint_serves_new_mail_for_the_live_list(client: TestClient, lab: Lab) -> None:
    assert "No messages yet" in client.get("/inbox/rows").text
    send(lab, simple_message("arrived later"))
    response = client.get("/inbox/rows")
    rows = response.text
    assert "arrived later" in rows and "<html" not in rows  # a fragment, not a page
    assert response.headers["x-inbox-total"] == "1"
    page = client.get("/inbox").text
    assert 'data-live="/inbox/rows?q="' in page  # what console.js polls


def test_message_view_shows_every_part(client: TestClient, lab: Lab) -> None:
    send(lab, _rich_message())
    key = lab.messages[0].maildir_key
    page = client.get(f"/inbox/{key}").text
    assert 'id="subject">Quarterly report<' in page
    assert "see the attachment" in page  # text part
    assert f'<iframe id="html-body" sandbox title="HTML body" src="/inbox/{key}/body.html">' in page
    assert "report.pdf" in page and "application/pdf" in page
    assert re.search(r"<th>Subject</th><td>Quarterly report</td>", page)  # header table
    assert "Content-Type: multipart/mixed" in page  # raw source
    assert "C: ehlo" in page and "C: STARTTLS" in page  # the session transcript
    assert "\\r" not in page  # line ends shown as line ends
    body = client.get(f"/inbox/{key}/body.html")
    assert body.text == "<p>Hello <b>Bob</b></p>\n"
    attachment = client.get(f"/inbox/{key}/attachments/0")
    assert attachment.content == b"%PDF-1.4 fake"
    assert attachment.headers["content-type"] == "application/octet-stream"
    assert attachment.headers["content-disposition"] == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf")
    raw = client.get(f"/inbox/{key}/raw")
    assert raw.content == lab.messages[0].data
    assert raw.headers["content-disposition"].startswith("attachment;")
    assert client.get(f"/inbox/{key}/attachments/9").status_code == 404


def test_transcript_is_redacted_and_no_page_holds_the_password(client: TestClient,
                                                                lab: Lab) -> None:
    send(lab, simple_message("login check"))
    key = lab.messages[0].maildir_key
    pages = [client.get(path) for path in ("/inbox", f"/inbox/{key}", "/inbox/rows",
                                           f"/inbox/{key}/raw", "/check")]
    view = pages[1].text
    assert "AUTH" in view and "***" in view
    import base64
    encoded = base64.b64encode(f"\0{LAB_USER}\0{LAB_PASSWORD}".encode()).decode()
    for response in pages:
        assert LAB_PASSWORD not in response.text
        assert encoded not in response.text


def test_search_by_address_and_subject(client: TestClient, lab: Lab) -> None:
    send(lab, simple_message("Invoice 42", to="carol@example.com"))
    send(lab, simple_message("Lunch?", to="dave@example.com"))
    by_subject = client.get("/inbox", params={"q": "invoice"}).text
    assert "Invoice 42" in by_subject and "Lunch?" not in by_subject
    by_address = client.get("/inbox/rows", params={"q": "DAVE@"}).text
    assert "Lunch?" in by_address and "Invoice 42" not in by_address
    assert "No messages yet" in client.get("/inbox/rows", params={"q": "nobody-here"}).text


def test_delete_one_then_all(client: TestClient, lab: Lab) -> None:
    for subject in ("one", "two", "three"):
        send(lab, simple_message(subject))
    token = csrf_of(client)
    first = lab.messages[0]
    response = client.post(f"/inbox/{first.maildir_key}/delete", data={"csrf": token},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/inbox"
    assert [m.maildir_key for m in lab.messages].count(first.maildir_key) == 0
    assert len(lab.messages) == 2
    assert not (lab.maildir_path / "new" / first.maildir_key).exists()
    assert client.get(f"/inbox/{first.maildir_key}").status_code == 404
    client.post("/inbox/delete-all", data={"csrf": token})
    assert lab.messages == []


def test_a_malformed_message_still_shows_its_source(client: TestClient, lab: Lab) -> None:
    import smtplib

    with smtplib.SMTP(lab.host, lab.port("plain")) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"],
                      b"Subject: =?bogus?Q?x?=\r\nContent-Type: multipart/mixed\r\n\r\nno parts")
    page = client.get(f"/inbox/{lab.messages[0].maildir_key}")
    assert page.status_code == 200
    assert "no parts" in page.text


def test_deleting_an_unknown_message_changes_nothing(client: TestClient, lab: Lab) -> None:
    send(lab, simple_message("kept"))
    response = client.post("/inbox/no-such-key/delete", data={"csrf": csrf_of(client)},
                           follow_redirects=False)
    assert response.status_code == 303
    assert len(lab.messages) == 1
    assert lab.delete("no-such-key") is False
