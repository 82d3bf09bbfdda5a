"""Fixtures for the console's HTTP tests: a real lab, the app, Starlette's TestClient."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cdomail.lab import Lab
from cdomail.relay.config import load_config
from cdomail.testing import LAB_PASSWORD, LAB_USER
from cdomail.web import create_app

from ..relay._relay import relay_toml
from ..relay_pg.cluster import pg_cluster, pg_spool_config

__all__ = ["pg_cluster", "pg_spool_config"]  # the relay page on the PostgreSQL queue too

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(client: TestClient, path: str = "/check") -> str:
    """This client's CSRF token, read from a form as a browser would."""
    match = _CSRF.search(client.get(path).text)
    assert match is not None, "the page has no CSRF field"
    return match.group(1)


def send(lab: Lab, message: EmailMessage, *, listener: str = "starttls-required",
         login: bool = True) -> None:
    """Send ``message`` to the lab with smtplib, over STARTTLS and logged in by default."""
    if listener == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(lab.host, lab.port(listener),
                                                context=lab.client_context())
    else:
        client = smtplib.SMTP(lab.host, lab.port(listener))
    with client:
        if listener in ("starttls", "starttls-required"):
            client.starttls(context=lab.client_context())
        if login:
            client.login(LAB_USER, LAB_PASSWORD)
        client.send_message(message)


def simple_message(subject: str = "Hello", sender: str = "alice@example.com",
                   to: str = "bob@example.com", text: str = "plain body") -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message.set_content(text)
    return message


@pytest.fixture
def client(lab: Lab) -> Iterator[TestClient]:
    """The console over the ``lab`` fixture (no relay), as a browser-like test client."""
    with TestClient(create_app(lab=lab, probe_cafile=lab.ca_path),
                    base_url="http://127.0.0.1:8025") as test_client:
        yield test_client


@pytest.fixture
def relay_config_path(tmp_path: Path) -> Path:
    path = tmp_path / "relay.toml"
    path.write_text(relay_toml(tmp_path / "spool", 'address = "127.0.0.1:0"'))
    return path


@pytest.fixture
def relay_client(relay_config_path: Path) -> Iterator[TestClient]:
    """The console over a relay spool (no lab)."""
    app = create_app(relay_config=load_config(relay_config_path))
    with TestClient(app, base_url="http://127.0.0.1:8025") as test_client:
        yield test_client
