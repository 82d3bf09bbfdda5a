"""Hostile text in every place a sender or a server controls, on every page that shows it.

Payloads: a script element, attribute-breaking quotes, a ``javascript:`` URL, and the control and
bidi characters a hostile server uses to spoof a terminal (ESC/ANSI, a C1 CSI, RIGHT-TO-LEFT
OVERRIDE, FIRST STRONG ISOLATE). Each must come out as inert text: markup escaped, controls shown as
visible escapes.
"""

from __future__ import annotations

import base64
import contextlib
import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cdomail.lab import Lab
from cdomail.relay._model import ArrivalFacts, AttemptRecord, RecipientOutcome
from cdomail.relay.spool import Spool
from tests._server import Close, Script, ScriptedServer

from .conftest import csrf_of

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = "\"><img src=x onerror=alert(2)>'"
JAVASCRIPT_URL = "javascript:alert(3)"
CONTROLS = "\x1b[31mred\x1b[0m \x9b2J \u202egnp.exe \u2066iso"
PAYLOAD = f"{SCRIPT} {ATTRIBUTE} {JAVASCRIPT_URL} {CONTROLS}"


def _encoded_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def assert_inert(html: str) -> None:
    """No payload survives as markup, and no raw control or bidi character reaches the page."""
    assert SCRIPT not in html
    assert "<img src=x" not in html
    assert 'href="javascript:' not in html and "src=\"javascript:" not in html
    for character in ("\x1b", "\x9b", "\u202e", "\u2066"):
        assert character not in html, f"raw {character!r} in the page"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;&#39;" in html
    assert "\\x1b[31mred\\x1b[0m" in html and "\\u202egnp.exe" in html and "\\x9b2J" in html


def _hostile_message() -> bytes:
    filename = "".join(f"%{b:02X}" for b in f"{PAYLOAD}.pdf".encode())
    lines = [
        f"From: {_encoded_word(PAYLOAD)} <alice@example.com>",
        f"To: {_encoded_word(PAYLOAD)} <bob@example.com>",
        f"Subject: {_encoded_word(PAYLOAD)}",
        f"X-Hostile: {_encoded_word(PAYLOAD)}",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        base64.b64encode(PAYLOAD.encode()).decode(),
        "--b",
        "Content-Type: application/octet-stream",
        f"Content-Disposition: attachment; filename*=utf-8''{filename}",
        "",
        "AAAA",
        "--b--",
        "",
    ]
    return "\r\n".join(lines).encode()


@pytest.fixture
def hostile(lab: Lab) -> str:
    sender = '"<script>alert(1)</script>\\"><img src=x onerror=alert(2)>"@example.com'
    # The EHLO name is the client's own words in the session transcript.
    with smtplib.SMTP(lab.host, lab.port("plain"),
                      local_hostname=f"{SCRIPT}\x1b[31mred\x1b[0m") as smtp:
        smtp.sendmail(sender, ["bob@example.com"], _hostile_message())
    return lab.messages[0].maildir_key


def test_subject_addresses_headers_and_filenames_are_inert_in_the_list(
        client: TestClient, hostile: str) -> None:
    for path in ("/inbox", "/inbox/rows"):
        html = client.get(path).text
        assert_inert(html)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;\\&#34;&gt;&lt;img" in html  # envelope


def test_every_part_of_the_message_view_is_inert(client: TestClient, hostile: str) -> None:
    html = client.get(f"/inbox/{hostile}").text
    assert_inert(html)
    transcript = html[html.index('id="transcript"'):]
    assert "C: ehlo &lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31mred" in transcript
    # subject, From, To, X-Hostile, the text part, the file name
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6


def test_attachment_download_name_is_safe(client: TestClient, hostile: str) -> None:
    response = client.get(f"/inbox/{hostile}/attachments/0")
    disposition = response.headers["content-disposition"]
    assert response.headers["content-type"] == "application/octet-stream"
    assert disposition.startswith('attachment; filename="')
    name = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert all(c not in name for c in "<>\"'\\/;:\x1b") and name.isprintable() and name.isascii()
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert all(c not in encoded for c in "<>\"' ;\x1b")  # percent-encoded
    assert "%E2%80%AE" not in encoded and "%1B" not in encoded  # no bidi override, no ESC


def test_search_echo_is_inert(client: TestClient, lab: Lab) -> None:
    html = client.get("/inbox", params={"q": PAYLOAD}).text
    assert SCRIPT not in html and "<img src=x" not in html and "\x1b" not in html


def _store_hostile_relay_message(spool_dir: Path) -> str:
    with Spool.open(spool_dir) as spool:
        message_id = spool.store(
            f"{SCRIPT}@example.com", [f"{ATTRIBUTE}@example.com"],
            f"Message-ID: <{SCRIPT}{CONTROLS}>\r\n\r\nbody\r\n".encode(),
            ArrivalFacts("127.0.0.1", f"{SCRIPT}{CONTROLS}", "TLSv1.3", "TLS_AES_256_GCM_SHA384",
                         f"{ATTRIBUTE}{CONTROLS}", time.time()))
        now = time.time()
        spool.record_attempt(
            message_id,
            AttemptRecord(now, now, f"{JAVASCRIPT_URL}:25", "TLSv1.2", f"{SCRIPT}", True,
                          reply=f"451 4.3.0 {PAYLOAD}"),
            {f"{ATTRIBUTE}@example.com": RecipientOutcome("queued", f"451 {PAYLOAD}")},
            now + 60)
        spool.hold(message_id, f"{SCRIPT}{CONTROLS}")
        spool.set_health("upstream", f'{{"last_error": "{SCRIPT} \\u001b[31m \\u202e"}}')
        return message_id


def test_relay_pages_keep_senders_and_upstream_replies_inert(
        relay_client: TestClient, tmp_path: Path) -> None:
    message_id = _store_hostile_relay_message(tmp_path / "spool")
    queue = relay_client.get("/relay").text
    detail = relay_client.get(f"/relay/messages/{message_id}").text
    for html in (queue, detail):
        assert SCRIPT not in html and "<img src=x" not in html
        assert "\x1b" not in html and "\u202e" not in html
    assert "451 4.3.0 &lt;script&gt;alert(1)&lt;/script&gt;" in detail  # the upstream's reply
    assert "\\x1b[31mred" in detail and "\\u202egnp.exe" in detail
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\x1b[31m \\u202e" in queue  # health


@contextlib.contextmanager
def _hostile_smtp_server() -> Iterator[int]:
    """A loopback 'server' whose greeting and EHLO reply carry the payload (then it hangs up)."""
    script = Script(greeting=f"220 {PAYLOAD}\r\n".encode(),
                    replies={"EHLO": f"250 {SCRIPT}\r\n".encode()}, fallback=Close())
    with ScriptedServer(script) as server:
        yield server.port


def test_probe_report_keeps_a_hostile_greeting_inert(lab: Lab) -> None:
    from cdomail.web import create_app

    with _hostile_smtp_server() as port:
        app = create_app(probe_connect_to={2525: ("127.0.0.1", port)})
        with TestClient(app, base_url="http://127.0.0.1:8025") as client:
            token = csrf_of(client)
            response = client.post("/check/probe", data={
                "csrf": token, "host": "localhost", "ports": "2525", "timeout": "2"})
    html = response.text
    assert response.status_code == 200
    assert "2525" in html and "plaintext-only" in html
    assert SCRIPT not in html and "<img src=x" not in html
    assert "\x1b" not in html and "\u202e" not in html and "\x9b" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the greeting, shown as text
