"""The connect plan, bytes in and bytes out: greeting, EHLO/HELO, TLS policy, AUTH."""

from __future__ import annotations

from typing import Any

import pytest

from cdomail.errors import (
    AuthenticationFailed,
    AuthenticationRefusedLocally,
    CdoMailError,
    ConnectTimeout,
    GreetingRefused,
    HeloRefused,
    NotSMTPServer,
    ReadTimeout,
    RemoteProtocolError,
    ServiceClosing,
    StartTLSRefused,
    TLSRequired,
)
from cdomail.session import ClientConfig, Close, ConnectPlan, Note, Open, Receive, UpgradeTLS
from cdomail.tls import TLSMode

from ._drive import run_plan

GREETING = b"220 mx.test ESMTP\r\n"
EHLO_STARTTLS = b"250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
EHLO_AUTH = b"250-mx.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n"
EHLO_PLAIN = b"250-mx.test\r\n250 PIPELINING\r\n"


def plan_for(port: int = 587, **options: Any) -> ConnectPlan:
    config = ClientConfig.build("mx.test", port, local_hostname="client.test", **options)
    return ConnectPlan(config, "client.test")


def test_starttls_upgrades_then_asks_ehlo_again_inside_tls() -> None:
    plan = plan_for(tls="starttls")
    run = run_plan(plan, [GREETING, EHLO_STARTTLS, b"220 go\r\n", EHLO_AUTH])
    assert run.error is None
    assert bytes(run.sent) == b"EHLO client.test\r\nSTARTTLS\r\nEHLO client.test\r\n"
    assert Open(implicit_tls=False) in run.steps
    assert UpgradeTLS(TLSMode.STARTTLS) in run.steps
    # RFC 3207 §4.2: the extensions are the post-TLS list only.
    extensions = plan.connection.extensions
    assert extensions is not None
    assert extensions.has("AUTH") and not extensions.has("STARTTLS")
    assert plan.connection.tls_active


def test_required_tls_not_offered_quits_before_sending_anything_else() -> None:
    run = run_plan(plan_for(tls="starttls"), [GREETING, EHLO_PLAIN])
    assert isinstance(run.error, TLSRequired)
    assert bytes(run.sent) == b"EHLO client.test\r\n"
    assert run.steps[-1] == Close(polite=True)


def test_refused_starttls_never_falls_back_to_plaintext() -> None:
    plan = plan_for(tls="starttls", username="user", password="secret")
    run = run_plan(plan, [GREETING, EHLO_STARTTLS, b"454 4.7.0 TLS not available\r\n"])
    assert isinstance(run.error, StartTLSRefused)
    assert run.error.code == 454
    assert bytes(run.sent) == b"EHLO client.test\r\nSTARTTLS\r\n"
    assert run.steps[-1] == Close(polite=False)  # no QUIT, no AUTH: the session is dropped


def test_opportunistic_continues_in_plaintext_and_says_so() -> None:
    run = run_plan(plan_for(tls="opportunistic"), [GREETING, EHLO_PLAIN])
    assert run.error is None
    assert Note("STARTTLS not offered: continuing in plaintext (opportunistic)") in run.steps
    assert not plan_for().connection.tls_active


def test_credentials_are_refused_over_plaintext_before_any_auth_byte() -> None:
    plan = plan_for(tls="none", username="user", password="secret")
    run = run_plan(plan, [GREETING, EHLO_AUTH])
    assert isinstance(run.error, AuthenticationRefusedLocally)
    assert b"AUTH" not in run.sent
    assert run.steps[-1] == Close(polite=True)


def test_plaintext_auth_when_allowed_sends_plain() -> None:
    plan = plan_for(tls="none", username="user", password="secret", allow_plaintext_auth=True)
    run = run_plan(plan, [GREETING, EHLO_AUTH, b"235 2.7.0 ok\r\n"])
    assert run.error is None
    assert run.sent.endswith(b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n")


def test_implicit_tls_starts_in_tls_and_authenticates() -> None:
    plan = plan_for(465, tls="implicit", username="user", password="secret")
    run = run_plan(plan, [GREETING, EHLO_AUTH, b"535 5.7.8 no\r\n"])
    assert run.steps[1] == Open(implicit_tls=True)
    assert UpgradeTLS(TLSMode.STARTTLS) not in run.steps
    assert plan.connection.tls_active
    assert isinstance(run.error, AuthenticationFailed)
    assert run.error.code == 535


def test_helo_fallback_only_when_no_tls_is_still_needed() -> None:
    run = run_plan(plan_for(tls="none"), [GREETING, b"502 no EHLO\r\n", b"250 mx.test\r\n"])
    assert run.error is None
    assert bytes(run.sent) == b"EHLO client.test\r\nHELO client.test\r\n"
    # RFC 3207: HELO cannot do STARTTLS, so a mode that needs TLS does not fall back.
    run = run_plan(plan_for(tls="starttls"), [GREETING, b"502 no EHLO\r\n"])
    assert isinstance(run.error, HeloRefused)
    assert bytes(run.sent) == b"EHLO client.test\r\n"


def test_refused_greeting_quits_politely() -> None:
    run = run_plan(plan_for(tls="none"), [b"554 5.3.2 go away\r\n"])
    assert isinstance(run.error, GreetingRefused)
    assert run.sent == b""
    assert run.steps[-1] == Close(polite=True)


def test_silent_port_with_auto_tls_suggests_implicit_tls() -> None:
    plan = plan_for(2525)
    run = run_plan(plan, [ReadTimeout("no reply")])
    assert Receive("AUTO_GREETING") in run.steps
    assert isinstance(run.error, ConnectTimeout)
    assert "tls='implicit'" in str(run.error)
    run = run_plan(plan_for(2525, tls="starttls"), [ReadTimeout("no reply")])
    assert Receive("CONNECT") in run.steps


def test_garbage_greeting_is_named_not_smtp() -> None:
    run = run_plan(plan_for(tls="none"), [RemoteProtocolError("not a reply")])
    assert isinstance(run.error, NotSMTPServer)


def test_421_ends_the_session_without_quit() -> None:
    run = run_plan(plan_for(tls="none"), [GREETING, b"421 4.3.2 shutting down\r\n"])
    assert isinstance(run.error, ServiceClosing)
    assert run.steps[-1] == Close(polite=False)


@pytest.mark.parametrize(("mode", "port", "implicit"), [
    ("cdo", 25, False), ("cdo", 465, True), ("cdo", 587, True),
    ("auto", 465, True), ("auto", 587, False),
])
def test_the_plan_decides_implicit_tls_from_mode_and_port(mode: str, port: int,
                                                          implicit: bool) -> None:
    server: list[bytes | CdoMailError] = (
        [GREETING, EHLO_PLAIN] if implicit
        else [GREETING, EHLO_STARTTLS, b"220 go\r\n", EHLO_PLAIN])
    run = run_plan(plan_for(port, tls=mode), server)
    assert run.error is None
    assert run.steps[1] == Open(implicit_tls=implicit)
    assert (UpgradeTLS(TLSMode.STARTTLS) in run.steps) is not implicit
