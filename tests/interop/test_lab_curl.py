"""curl's SMTP client against every listener of the cdomail lab."""

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

# curl exit codes (curl(1), "EXIT CODES").
_EXIT_SEND_FAILED = 55
_EXIT_USE_SSL_FAILED = 64

_USER = ("--user", f"{LAB_USER}:{LAB_PASSWORD}")


def _curl(lab: Lab, listener: str, *options: str, marker: str) -> tuple[int, str]:
    curl = require_program("curl")
    scheme = "smtps" if listener == "smtps" else "smtp"
    result = run_client(
        [
            curl,
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            "--cacert",
            str(lab.ca_path),
            f"{scheme}://{lab.host}:{lab.port(listener)}",
            "--mail-from",
            SENDER,
            "--mail-rcpt",
            RECIPIENT,
            "--upload-file",
            "-",
            *options,
        ],
        stdin=sample_message(marker, "curl"),
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("listener", "options", "encrypted"),
    [
        ("plain", (), False),
        ("plain", ("--ssl",), False),
        ("starttls", (), False),
        ("starttls", ("--ssl",), True),
        ("starttls", ("--ssl-reqd",), True),
        ("starttls-required", ("--ssl-reqd",), True),
        ("smtps", (), True),
    ],
    ids=case_id,
)
def test_curl_delivers_with_the_expected_encryption(
    interop_lab: Lab, listener: str, options: tuple[str, ...], encrypted: bool
) -> None:
    marker = new_marker()
    status, output = _curl(interop_lab, listener, *options, marker=marker)
    assert status == 0, output
    stored = assert_stored(interop_lab, marker, listener=listener, encrypted=encrypted)
    assert stored.data == sample_message(marker, "curl")


@pytest.mark.parametrize(
    ("listener", "options"),
    [
        ("starttls-required", ("--ssl-reqd",)),
        ("starttls", ("--ssl-reqd", "--login-options", "AUTH=LOGIN")),
        ("smtps", ("--login-options", "AUTH=PLAIN")),
    ],
    ids=case_id,
)
def test_curl_authenticates_over_tls(
    interop_lab: Lab, listener: str, options: tuple[str, ...]
) -> None:
    marker = new_marker()
    status, output = _curl(interop_lab, listener, *options, *_USER, marker=marker)
    assert status == 0, output
    assert_stored(interop_lab, marker, listener=listener, encrypted=True, authenticated_as=LAB_USER)


def test_curl_mail_auth_parameter_is_accepted(interop_lab: Lab) -> None:
    marker = new_marker()
    status, output = _curl(interop_lab, "smtps", *_USER, "--mail-auth", SENDER, marker=marker)
    assert status == 0, output
    stored = assert_stored(
        interop_lab, marker, listener="smtps", encrypted=True, authenticated_as=LAB_USER
    )
    assert f"AUTH=<{SENDER}>" in stored.mail_options


def test_curl_ssl_reqd_fails_on_a_plain_listener(interop_lab: Lab) -> None:
    marker = new_marker()
    status, output = _curl(interop_lab, "plain", "--ssl-reqd", marker=marker)
    assert status == _EXIT_USE_SSL_FAILED, output
    assert stored_with(interop_lab, marker) == []


def test_curl_without_tls_is_refused_and_never_authenticates_in_plaintext(
    interop_lab: Lab,
) -> None:
    marker = new_marker()
    before = len(interop_lab.sessions)
    status, output = _curl(interop_lab, "starttls-required", *_USER, marker=marker)
    assert status == _EXIT_SEND_FAILED, output
    assert "530" in output
    assert stored_with(interop_lab, marker) == []
    sessions = sessions_since(interop_lab, before)
    assert sessions
    assert all("AUTH" not in record.plaintext_commands() for record in sessions)
