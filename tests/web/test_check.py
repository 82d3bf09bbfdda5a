"""Check a server: the probe form against the lab's four listeners, its bounds, and explain."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from cdomail.lab import Lab
from cdomail.web import create_app
from cdomail.web._check import MAX_PORTS, parse_ports

from .conftest import csrf_of

#: Typed port -> lab listener: the ports people type, each backed by the lab mode usually there.
LAB_PORTS = {25: "starttls-required", 465: "smtps", 587: "starttls", 2525: "plain"}


@pytest.fixture
def checker(lab: Lab) -> Iterator[TestClient]:
    connect_to = {port: (lab.host, lab.port(mode)) for port, mode in LAB_PORTS.items()}
    app = create_app(lab=lab, probe_cafile=lab.ca_path, probe_connect_to=connect_to)
    with TestClient(app, base_url="http://127.0.0.1:8025") as client:
        yield client


def _row(html: str, port: int) -> str:
    match = re.search(rf'<tr data-port="{port}">(.*?)</tr>', html, re.S)
    assert match is not None, f"no row for port {port}"
    return match.group(1)


def test_the_form_says_what_will_be_contacted(checker: TestClient) -> None:
    page = checker.get("/check").text
    scope = page[page.index('id="probe-scope"'):]
    assert "only to the host you type" in scope and f"at most {MAX_PORTS}" in scope
    assert "never RCPT or DATA" in scope and "never logs in" in scope
    assert "No MX lookup, no redirect" in scope
    assert 'name="password"' not in page  # the form takes no credentials


def test_probe_of_the_four_lab_listeners_gives_each_verdict(checker: TestClient) -> None:
    response = checker.post("/check/probe", data={
        "csrf": csrf_of(checker), "host": "localhost", "ports": "25, 465, 587, 2525",
        "timeout": "2", "check_required": "on"})
    html = response.text
    assert response.status_code == 200
    row25, row465, row587, row2525 = (_row(html, p) for p in (25, 465, 587, 2525))
    assert "starttls-required" in row25 and "530 5.7.0 Must issue a STARTTLS" in row25
    assert "smtps" in row465 and "implicit TLS" in row465 and "verified" in row465
    assert "starttls-optional" in row587 and "250 2.1.0" in row587
    assert "plaintext-only" in row2525 and "none" in row2525
    # CDO: smtpusessl=True is STARTTLS on 25 and implicit TLS anywhere else.
    assert re.search(r'class="cdo-true"><span class="ok">sent encrypted', row25)
    assert re.search(r'class="cdo-true"><span class="ok">sent encrypted', row465)
    assert 'class="cdo-true"><span class="bad">error 0x80040213</span>' in row587
    assert 'class="cdo-false"><span class="bad">error 0x8004020E</span>' in row25
    assert 'class="cdo-false"><span class="bad">sent UNENCRYPTED' in row2525
    assert "Best for CDO:</strong> smtpserverport=25, smtpusessl=True" in html
    assert "Best for cdomail:</strong> cdomail send --server localhost:465 --tls implicit" in html
    recommended = html[html.index("<h2>Recommended settings</h2>"):]
    for label in ("CDO fields", "cdomail", "smtplib", "Django", "MailKit"):
        assert f"<span>{label}</span>" in recommended
    assert "SMTP_SSL" in recommended and "EMAIL_USE_SSL" in recommended
    assert "SecureSocketOptions" in recommended
    assert "Issuer" in html and "SHA-256" in html  # certificate facts


@pytest.mark.parametrize(("field", "value", "message"), [
    ("ports", "25 465 587 2525 2587 2588 1025", f"at most {MAX_PORTS} ports"),
    ("ports", "25, http", "'http' is not a port"),
    ("ports", "0", "'0' is not a port"),
    ("host", "evil.example/redirect?to=x", "the host must be a DNS name or an IP address"),
    ("host", "", "the host must be a DNS name"),
    ("timeout", "600", "the timeout must be from 1 to 15 seconds"),
])
def test_bad_input_is_refused_before_any_connection(checker: TestClient, lab: Lab, field: str,
                                                    value: str, message: str) -> None:
    form = {"csrf": csrf_of(checker), "host": "localhost", "ports": "25", "timeout": "2",
            field: value}
    sessions_before = len(lab.sessions)
    response = checker.post("/check/probe", data=form)
    assert response.status_code == 400
    assert message in response.text.replace("&#39;", "'")
    assert len(lab.sessions) == sessions_before  # nothing contacted


def test_parse_ports_keeps_order_and_drops_duplicates() -> None:
    assert parse_ports("587, 25 587\n465") == [587, 25, 465]


def test_explain_gives_the_verdict_and_never_shows_the_password(checker: TestClient) -> None:
    snippet = "\n".join([
        'Set cfg = CreateObject("CDO.Configuration")',
        'With cfg.Fields',
        '  .Item("http://schemas.microsoft.com/cdo/configuration/smtpserver") = "smtp.example.com"',
        '  .Item("http://schemas.microsoft.com/cdo/configuration/smtpserverport") = 587',
        '  .Item("http://schemas.microsoft.com/cdo/configuration/smtpusessl") = True',
        '  .Item("http://schemas.microsoft.com/cdo/configuration/sendusing") = 2',
        '  .Item("http://schemas.microsoft.com/cdo/configuration/sendpassword") = "Hunter2-S3cret"',
        '  .Update',
        'End With',
    ])
    response = checker.post("/check/explain", data={"csrf": csrf_of(checker),
                                                    "snippet": snippet})
    assert response.status_code == 200
    explanation = response.text[response.text.index('id="explanation"'):]
    assert "0x80040213" in explanation  # implicit TLS on 587: CDO's error
    assert "Hunter2-S3cret" not in response.text


def test_explain_of_a_working_configuration(checker: TestClient) -> None:
    snippet = "smtpserver=smtp.example.com\nsmtpserverport=465\nsmtpusessl=true\nsendusing=2\n"
    response = checker.post("/check/explain", data={"csrf": csrf_of(checker),
                                                    "snippet": snippet})
    assert '<span class="ok">Mail is sent encrypted.</span>' in response.text
