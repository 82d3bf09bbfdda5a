"""The console in a real browser (chromium): live inbox, the HTML sandbox, relay actions, checks."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage
from typing import Any

import pytest

from cdomail.relay._model import ArrivalFacts, AttemptRecord, RecipientOutcome
from cdomail.relay.queue import NodeIdentity
from cdomail.relay.spool import Spool
from cdomail.testing import LAB_PASSWORD, LAB_USER

from .conftest import Console, Remote, screenshot, wait_until

pytestmark = pytest.mark.browser


def _send(console: Console, message: EmailMessage) -> None:
    lab = console.lab
    with smtplib.SMTP(lab.host, lab.port("starttls-required")) as smtp:
        smtp.starttls(context=lab.client_context())
        smtp.login(LAB_USER, LAB_PASSWORD)
        smtp.send_message(message)


def _message(subject: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Alice <alice@example.com>"
    message["To"] = "bob@example.com"
    message.set_content(f"{subject}: the plain text part")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def test_new_mail_appears_without_a_reload(page: Any, console: Console) -> None:
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url)
            if frame == page.main_frame else None)
    page.goto(f"{console.url}/inbox")
    assert page.locator("td.empty").inner_text() == "No messages yet. Send one to the lab."
    _send(console, _message("Invoice for November"))
    page.get_by_text("Invoice for November").wait_for(timeout=5000)
    _send(console, _message("Second arrival"))
    page.get_by_text("Second arrival").wait_for(timeout=5000)
    rows = page.locator("tr.message-row")
    assert rows.count() == 2
    assert "Second arrival" in rows.nth(0).inner_text()  # newest first
    first = rows.nth(1).inner_text()
    assert "starttls-required" in first and "yes" in first and LAB_USER in first
    assert wait_until(lambda: page.locator("#total").inner_text() == "2")
    assert navigations == [f"{console.url}/inbox"]  # no reload happened
    screenshot(page, "inbox")


HOSTILE_HTML = """<h1 id="greeting">Hello from the body</h1>
<script>
  document.getElementById("greeting").textContent = "SCRIPT RAN";
  fetch("{remote}/script-fetch");
  try {{ parent.document.title = "pwned"; }} catch (e) {{}}
</script>
<img id="tracker" src="{remote}/tracker.png" alt="tracker">
<img src="x" onerror="fetch('{remote}/onerror')">
<link rel="stylesheet" href="{remote}/style.css">
<style>@import url({remote}/import.css); body {{ background: url({remote}/bg.png); }}</style>
<iframe src="{remote}/frame"></iframe>
<a id="js" href="javascript:fetch('{remote}/js-url')">a javascript: link</a>
<object data="{remote}/object"></object>
<video src="{remote}/video.mp4" autoplay></video>
"""


def test_html_body_runs_no_script_and_no_request_leaves(page: Any, console: Console,
                                                        remote: Remote) -> None:
    _send(console, _message("Newsletter with scripts", HOSTILE_HTML.format(remote=remote.origin)))
    key = console.lab.messages[0].maildir_key
    requests: list[str] = []
    blocked: dict[str, str] = {}
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: blocked.update({request.url: request.failure}))
    page.goto(f"{console.url}/inbox/{key}")
    body = page.frame_locator("#html-body")
    assert body.locator("#greeting").inner_text() == "Hello from the body"
    body.locator("#js").click()  # a javascript: link in a sandbox without scripts does nothing
    time.sleep(1.5)  # give any delayed load or script its chance
    assert body.locator("#greeting").inner_text() == "Hello from the body"  # no script ran
    assert page.title() == "Newsletter with scripts — cdomail console"
    assert remote.hits == []  # nothing reached "the Internet"
    # Chromium reports the attempts it stopped; every one was stopped by the policy.
    tried = {url for url in requests if url.startswith(remote.origin)}
    assert tried and {blocked.get(url) for url in tried} == {"csp"}, blocked
    assert page.locator("#html-body").get_attribute("sandbox") == ""
    screenshot(page, "message")

    # Remote images only when asked, and then only images: still no script, no other load.
    page.locator("#remote-images").click()
    page.wait_for_url(f"{console.url}/inbox/{key}?remote_images=1")
    assert wait_until(lambda: "/tracker.png" in remote.hits)
    time.sleep(1.0)
    assert body.locator("#greeting").inner_text() == "Hello from the body"
    leaked = {hit for hit in remote.hits if not hit.endswith(".png")}
    assert leaked == set(), f"non-image requests left: {leaked}"


def test_relay_actions_change_the_state_shown(page: Any, console: Console) -> None:
    now = time.time()
    with Spool.open(console.spool_dir) as spool:
        stuck = spool.store("app@corp.example", ["b@x.example"], b"Subject: stuck\r\n\r\nx\r\n",
                            ArrivalFacts("192.0.2.7", "legacy-box", "TLSv1.2",
                                         "ECDHE-RSA-AES256-GCM-SHA384", "scanner", now))
        spool.record_attempt(stuck, AttemptRecord(
            now, now + 1, "smtp.upstream.example:587", "TLSv1.3", "TLS_AES_256_GCM_SHA384",
            True, reply="451 4.7.0 Temporary server error, try again later"),
            {"b@x.example": RecipientOutcome("queued", "451 4.7.0 Temporary server error")},
            now + 600)
        other = spool.store("billing@corp.example", ["c@y.example"], b"Subject: ok\r\n\r\n",
                            ArrivalFacts("192.0.2.8", "erp", None, None, None, now))
        spool.record_attempt(other, AttemptRecord(now, now + 1, "smtp.upstream.example:587",
                                                  "TLSv1.3", "TLS_AES_256_GCM_SHA384", True,
                                                  reply="250 2.0.0 OK queued as 7Q"),
                             {"c@y.example": RecipientOutcome("delivered", "250 2.0.0 OK")},
                             None)
        spool.set_health("upstream", '{"reachable": true, "last_error": '
                         '"451 4.7.0 Temporary server error, try again later"}')
        spool.register_node(NodeIdentity("relay-node-1", "relay-host", 4321, now - 60,
                                         "127.0.0.1:2525"))
    page.goto(f"{console.url}/relay")
    assert page.locator('[data-state="queued"] strong').inner_text() == "1"
    node = page.locator('tr[data-node="relay-node-1"]')
    assert "relay-host" in node.inner_text() and node.locator(".in-flight").inner_text() == "0"
    assert page.locator('[data-state="delivered"] strong').inner_text() == "1"
    screenshot(page, "relay")
    page.locator(f'tr[data-id="{stuck}"] a').click()
    assert page.locator("#state").inner_text() == "queued"
    assert "451 4.7.0 Temporary server error" in page.locator("#attempts").inner_text()
    page.get_by_label("Reason for the hold").fill("waiting for the upstream")
    page.get_by_role("button", name="Hold").click()
    assert page.locator("#state").inner_text() == "held"
    assert page.locator("#held-reason").inner_text() == "Held: waiting for the upstream"
    page.get_by_role("button", name="Release").click()
    assert page.locator("#state").inner_text() == "queued"
    page.get_by_role("button", name="Retry").click()
    assert page.locator("#state").inner_text() == "queued"
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{console.url}/relay")
    assert page.locator(f'tr[data-id="{stuck}"]').count() == 0
    assert page.locator('[data-state="queued"] strong').inner_text() == "0"


def test_check_form_against_the_four_lab_listeners(page: Any, console: Console) -> None:
    page.goto(f"{console.url}/check")
    page.get_by_label("Host").fill("localhost")
    page.get_by_label("Ports").fill("25, 465, 587, 2525")
    page.get_by_label("Timeout per step (s)").fill("2")
    page.get_by_label("check that MAIL is refused before TLS").check()
    page.get_by_role("button", name="Check", exact=True).click()
    table = page.locator("#probe-table")
    table.wait_for(timeout=30_000)
    verdicts = {port: page.locator(f'#probe-table tr[data-port="{port}"] td.verdict')
                .inner_text().split("\n")[0] for port in (25, 465, 587, 2525)}
    assert verdicts == {25: "starttls-required", 465: "smtps", 587: "starttls-optional",
                        2525: "plaintext-only"}
    cdo_true = {port: page.locator(f'#probe-table tr[data-port="{port}"] td.cdo-true')
                .inner_text() for port in (25, 465, 587, 2525)}
    assert cdo_true[25].startswith("sent encrypted") and cdo_true[465].startswith("sent encr")
    assert cdo_true[587].startswith("error 0x80040213")
    assert cdo_true[2525].startswith("error 0x80040213")
    assert "smtpserverport=25, smtpusessl=True" in page.locator("#summary").inner_text()
    screenshot(page, "check")
    page.locator("textarea[name=snippet]").fill(
        "smtpserver=smtp.example.com\nsmtpserverport=587\nsmtpusessl=true\nsendusing=2\n")
    page.get_by_role("button", name="Explain").click()
    assert "0x80040213" in page.locator("#explanation").inner_text()
