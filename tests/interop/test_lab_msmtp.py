"""msmtp (a sendmail-style client built on GnuTLS) against every listener of the cdomail lab."""

from __future__ import annotations

from pathlib import Path
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

_AUTH = ("auth on", f"user {LAB_USER}", f"password {LAB_PASSWORD}")


def _msmtp(
    lab: Lab, listener: str, settings: tuple[str, ...], *, marker: str, config_dir: Path
) -> tuple[int, str]:
    msmtp = require_program("msmtp")
    config = config_dir / f"msmtprc-{marker}"
    config.write_text(
        "\n".join(
            [
                "account default",
                f"host {lab.host}",
                f"port {lab.port(listener)}",
                f"from {SENDER}",
                f"tls_trust_file {lab.ca_path}",
                *settings,
            ]
        )
        + "\n"
    )
    # msmtp refuses a configuration file that holds a password and is readable by others.
    config.chmod(0o600)
    result = run_client(
        [msmtp, "--file", str(config), RECIPIENT], stdin=sample_message(marker, "msmtp")
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("listener", "settings", "encrypted"),
    [
        ("plain", ("tls off",), False),
        ("starttls", ("tls off",), False),
        ("starttls", ("tls on", "tls_starttls on"), True),
        ("starttls-required", ("tls on", "tls_starttls on"), True),
        ("smtps", ("tls on", "tls_starttls off"), True),
    ],
    ids=case_id,
)
def test_msmtp_delivers_with_the_expected_encryption(
    interop_lab: Lab, tmp_path: Path, listener: str, settings: tuple[str, ...], encrypted: bool
) -> None:
    marker = new_marker()
    status, output = _msmtp(interop_lab, listener, settings, marker=marker, config_dir=tmp_path)
    assert status == 0, output
    stored = assert_stored(interop_lab, marker, listener=listener, encrypted=encrypted)
    # msmtp adds a Date header when the message has none (msmtp(1), add_missing_date_header).
    assert stored.data.startswith(b"Date: ")
    assert stored.data.endswith(sample_message(marker, "msmtp"))


@pytest.mark.parametrize(
    ("listener", "settings"),
    [
        ("starttls-required", ("tls on", "tls_starttls on", "auth plain")),
        ("smtps", ("tls on", "tls_starttls off", "auth login")),
    ],
    ids=case_id,
)
def test_msmtp_authenticates_over_tls(
    interop_lab: Lab, tmp_path: Path, listener: str, settings: tuple[str, ...]
) -> None:
    marker = new_marker()
    # A later "auth <mechanism>" line overrides the generic "auth on".
    status, output = _msmtp(
        interop_lab, listener, (*_AUTH, *settings), marker=marker, config_dir=tmp_path
    )
    assert status == 0, output
    assert_stored(interop_lab, marker, listener=listener, encrypted=True, authenticated_as=LAB_USER)


def test_msmtp_starttls_on_fails_against_a_plain_listener(interop_lab: Lab, tmp_path: Path) -> None:
    marker = new_marker()
    status, output = _msmtp(
        interop_lab, "plain", ("tls on", "tls_starttls on"), marker=marker, config_dir=tmp_path
    )
    assert status != 0
    assert "STARTTLS" in output
    assert stored_with(interop_lab, marker) == []


def test_msmtp_without_tls_is_refused_and_never_authenticates_in_plaintext(
    interop_lab: Lab, tmp_path: Path
) -> None:
    marker = new_marker()
    before = len(interop_lab.sessions)
    status, output = _msmtp(
        interop_lab, "starttls-required", ("tls off", *_AUTH), marker=marker, config_dir=tmp_path
    )
    assert status != 0
    assert "does not support authentication" in output
    assert stored_with(interop_lab, marker) == []
    sessions = sessions_since(interop_lab, before)
    assert sessions
    assert all("AUTH" not in record.plaintext_commands() for record in sessions)


def test_msmtp_without_tls_or_auth_is_refused_with_530(interop_lab: Lab, tmp_path: Path) -> None:
    marker = new_marker()
    status, output = _msmtp(
        interop_lab, "starttls-required", ("tls off",), marker=marker, config_dir=tmp_path
    )
    assert status != 0
    assert "530" in output
    assert stored_with(interop_lab, marker) == []
