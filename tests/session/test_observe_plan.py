"""The probe's observe plan, bytes in and bytes out: it records what the server offers and
refuses instead of enforcing a policy, and still never sends credentials without TLS."""

from __future__ import annotations

from cdomail.errors import ReadTimeout, RemoteProtocolError
from cdomail.protocol import Secret
from cdomail.session import ObservePlan, Send, UpgradeTLS
from cdomail.tls import TLSMode

from ._drive import run_plan

GREETING = b"220 mx.test ESMTP\r\n"
EHLO_STARTTLS_AUTH = b"250-mx.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
EHLO_AUTH = b"250-mx.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n"
EHLO_PLAIN = b"250-mx.test\r\n250 PIPELINING\r\n"
CREDENTIALS = ("user", Secret("pw-secret"))


def observe(**options: object) -> ObservePlan:
    return ObservePlan("client.test", **options)  # type: ignore[arg-type]


def test_plaintext_then_starttls_records_both_extension_lists_and_logs_in_inside_tls() -> None:
    plan = observe(implicit_tls=False, check_required=True, credentials=CREDENTIALS)
    run = run_plan(plan, [GREETING, EHLO_STARTTLS_AUTH, b"530 5.7.0 STARTTLS first\r\n",
                          b"250 reset\r\n", b"220 go ahead\r\n", EHLO_AUTH,
                          b"235 2.7.0 accepted\r\n"])
    assert run.error is None
    sent = bytes(run.sent)
    assert sent.startswith(b"EHLO client.test\r\nMAIL FROM:<>\r\nRSET\r\nSTARTTLS\r\n"
                           b"EHLO client.test\r\nAUTH PLAIN ")
    assert UpgradeTLS(TLSMode.STARTTLS) in run.steps
    # AUTH only after the upgrade to TLS.
    auth = next(i for i, step in enumerate(run.steps)
                if isinstance(step, Send) and step.command.verb == "AUTH")
    assert run.steps.index(UpgradeTLS(TLSMode.STARTTLS)) < auth
    seen = plan.seen
    assert seen.greeting is not None and seen.greeting.code == 220
    assert seen.extensions_before_tls is not None and seen.extensions_before_tls.has("STARTTLS")
    assert seen.extensions_in_tls is not None and not seen.extensions_in_tls.has("STARTTLS")
    assert seen.mail_before_tls is not None and seen.mail_before_tls.code == 530
    assert seen.login == ("ok", "AUTH PLAIN accepted")


def test_no_starttls_offered_is_recorded_and_credentials_never_travel_in_plaintext() -> None:
    plan = observe(implicit_tls=False, credentials=CREDENTIALS)
    run = run_plan(plan, [GREETING, EHLO_AUTH])
    assert run.error is None
    assert bytes(run.sent) == b"EHLO client.test\r\n"
    assert b"AUTH" not in run.sent and b"pw-secret" not in run.sent
    assert "UpgradeTLS" not in run.kinds()
    assert plan.seen.extensions_before_tls is not None
    assert plan.seen.extensions_before_tls.has("AUTH")
    assert plan.seen.extensions_in_tls is None and plan.seen.login is None


def test_refused_starttls_is_an_observation_not_an_error() -> None:
    plan = observe(implicit_tls=False, credentials=CREDENTIALS)
    run = run_plan(plan, [GREETING, EHLO_STARTTLS_AUTH, b"454 4.7.0 TLS not available\r\n"])
    assert run.error is None
    assert bytes(run.sent) == b"EHLO client.test\r\nSTARTTLS\r\n"
    assert plan.seen.starttls_refused is not None and plan.seen.starttls_refused.code == 454
    assert "UpgradeTLS" not in run.kinds() and plan.seen.login is None


def test_silent_or_broken_greeting_is_recorded_and_nothing_is_sent() -> None:
    for failure in (ReadTimeout("late"), RemoteProtocolError("HTTP/1.1 400")):
        plan = observe(implicit_tls=False)
        run = run_plan(plan, [failure])
        assert run.error is None
        assert plan.seen.greeting_failure is failure
        assert bytes(run.sent) == b""


def test_refusing_greeting_is_recorded_without_ehlo() -> None:
    plan = observe(implicit_tls=False)
    run = run_plan(plan, [b"554 no service here\r\n"])
    assert run.error is None and bytes(run.sent) == b""
    assert plan.seen.greeting is not None and plan.seen.greeting.code == 554


def test_ehlo_refused_falls_back_to_helo_with_no_extensions() -> None:
    plan = observe(implicit_tls=False)
    run = run_plan(plan, [GREETING, b"502 what?\r\n", b"250 hello\r\n"])
    assert run.error is None
    assert bytes(run.sent) == b"EHLO client.test\r\nHELO client.test\r\n"
    assert plan.seen.extensions_before_tls is not None
    assert not plan.seen.extensions_before_tls.has("STARTTLS")


def test_implicit_tls_with_a_failed_certificate_keeps_the_credentials() -> None:
    plan = observe(implicit_tls=True, credentials=CREDENTIALS, certificate_failed=True)
    run = run_plan(plan, [GREETING, EHLO_AUTH])
    assert run.error is None
    assert bytes(run.sent) == b"EHLO client.test\r\n"
    assert plan.seen.extensions_in_tls is not None and plan.seen.extensions_in_tls.has("AUTH")
    assert plan.seen.login == ("skipped",
                               "the certificate failed verification; credentials kept")


def test_refused_or_unusable_auth_is_recorded() -> None:
    plan = observe(implicit_tls=True, credentials=CREDENTIALS)
    run = run_plan(plan, [GREETING, EHLO_AUTH, b"535 5.7.8 bad credentials\r\n"])
    assert run.error is None
    assert plan.seen.login == ("failed", "AUTH PLAIN refused: 535 5.7.8 bad credentials")
    plan = observe(implicit_tls=True, credentials=CREDENTIALS)
    run = run_plan(plan, [GREETING, b"250-mx.test\r\n250 AUTH GSSAPI\r\n"])
    assert b"AUTH" not in run.sent
    assert plan.seen.login == ("not-offered", "no usable AUTH mechanism (offered: GSSAPI)")
