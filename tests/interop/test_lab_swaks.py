"""swaks (the Swiss Army Knife for SMTP) against every listener of the cdomail lab."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ._delivered import new_marker
from ._labtools import (
    LAB_PASSWORD,
    LAB_USER,
    RECIPIENT,
    SENDER,
    assert_stored,
    case_id,
    run_client,
    sample_message,
    sessions_since,
    stored_with,
)
from ._programs import require_program

if TYPE_CHECKING:
    from cdomail.lab import Lab

pytestmark = pytest.mark.interop

# swaks exit codes (swaks(1), "EXIT CODES").
_EXIT_MAIL_REFUSED = 23
_EXIT_AUTH_NOT_ADVERTISED = 28
_EXIT_TLS_NOT_ADVERTISED = 29

_AUTH = ("--auth-user", LAB_USER, "--auth-password", LAB_PASSWORD, "--auth-hide-password")


def _swaks(lab: Lab, listener: str, *options: str, marker: str) -> tuple[int, str]:
    swaks = require_program("swaks")
    result = run_client(
        [
            swaks,
            "--server",
            lab.host,
            "--port",
            str(lab.port(listener)),
            "--from",
            SENDER,
            "--to",
            RECIPIENT,
            "--data",
            "-",
            "--tls-verify",
            "--tls-ca-path",
            str(lab.ca_path),
            *options,
        ],
        stdin=sample_message(marker, "swaks"),
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("listener", "options", "encrypted"),
    [
        ("plain", (), False),
        ("plain", ("--tls-optional",), False),
        ("starttls", (), False),
        ("starttls", ("--tls",), True),
        ("starttls", ("--tls-optional",), True),
        ("starttls-required", ("--tls",), True),
        ("smtps", ("--tls-on-connect",), True),
    ],
    ids=case_id,
)
def test_swaks_delivers_with_the_expected_encryption(
    interop_lab: Lab, listener: str, options: tuple[str, ...], encrypted: bool
) -> None:
    marker = new_marker()
    status, output = _swaks(interop_lab, listener, *options, marker=marker)
    assert status == 0, output
    stored = assert_stored(interop_lab, marker, listener=listener, encrypted=encrypted)
    assert b"Sent by swaks to the cdomail lab." in stored.data


@pytest.mark.parametrize(
    ("listener", "options"),
    [
        ("starttls-required", ("--tls", "--auth", "PLAIN", "--pipeline")),
        ("starttls", ("--tls", "--auth", "LOGIN")),
        ("smtps", ("--tls-on-connect", "--auth", "PLAIN", "--pipeline")),
    ],
    ids=case_id,
)
def test_swaks_authenticates_over_tls(
    interop_lab: Lab, listener: str, options: tuple[str, ...]
) -> None:
    marker = new_marker()
    status, output = _swaks(interop_lab, listener, *options, *_AUTH, marker=marker)
    assert status == 0, output
    assert LAB_PASSWORD not in output
    assert_stored(interop_lab, marker, listener=listener, encrypted=True, authenticated_as=LAB_USER)
    if "--pipeline" in options:
        # PIPELINING (RFC 2920): MAIL, RCPT and DATA go out before the first of their replies.
        lines = [line for line in output.splitlines() if line.startswith(" ~> ")]
        mail = next(i for i, line in enumerate(lines) if line.startswith(" ~> MAIL FROM:"))
        assert lines[mail + 1].startswith(" ~> RCPT TO:")
        assert lines[mail + 2] == " ~> DATA"
        between = output.split(" ~> MAIL FROM:", 1)[1].split(" ~> DATA", 1)[0]
        assert "<~ " not in between


def test_swaks_requiring_tls_gives_up_on_a_plain_listener(interop_lab: Lab) -> None:
    marker = new_marker()
    status, output = _swaks(interop_lab, "plain", "--tls", marker=marker)
    assert status == _EXIT_TLS_NOT_ADVERTISED, output
    assert stored_with(interop_lab, marker) == []


def test_swaks_without_tls_is_refused_by_the_required_listener(interop_lab: Lab) -> None:
    marker = new_marker()
    status, output = _swaks(interop_lab, "starttls-required", marker=marker)
    assert status == _EXIT_MAIL_REFUSED, output
    assert "530" in output
    assert stored_with(interop_lab, marker) == []


def test_swaks_cannot_authenticate_in_plaintext_on_the_required_listener(
    interop_lab: Lab,
) -> None:
    # The lab offers AUTH only after STARTTLS (RFC 4954 §4), so swaks finds no AUTH to use.
    marker = new_marker()
    before = len(interop_lab.sessions)
    status, output = _swaks(
        interop_lab, "starttls-required", "--auth", "PLAIN", *_AUTH, marker=marker
    )
    assert status == _EXIT_AUTH_NOT_ADVERTISED, output
    assert stored_with(interop_lab, marker) == []
    sessions = sessions_since(interop_lab, before)
    assert sessions
    assert all("AUTH" not in record.plaintext_commands() for record in sessions)
