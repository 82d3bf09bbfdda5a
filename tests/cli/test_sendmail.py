"""``cdomail-sendmail`` used as cron, git send-email and PHP's mail() use ``sendmail``: the
real console script in a child process, a message piped in, the lab's Maildir checked."""

from __future__ import annotations

import os
from email import message_from_bytes, policy
from pathlib import Path

from cdomail.lab import Lab
from cdomail.testing import LAB_PASSWORD, LAB_USER

from .conftest import run_cli, sendmail_program


def server_args(lab: Lab, listener: str = "starttls") -> list[str]:
    return ["--server", f"localhost:{lab.port(listener)}", "--cafile", str(lab.ca_path)]


def test_git_send_email_style_envelope_from_arguments(lab: Lab) -> None:
    # git send-email: sendmail -i -f <from> <recipients...>; the To header is not consulted.
    message = (b"From: Dev <dev@cdomail.test>\nTo: list@cdomail.test\nSubject: [PATCH] fix\n\n"
               b"diff --git a/x b/x\n.\nmore after a lone dot\n")
    completed = run_cli(*server_args(lab), "-i", "-f", "dev@cdomail.test",
                        "maintainer@cdomail.test", "list@cdomail.test",
                        stdin=message, program=sendmail_program())
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == b"" and completed.stderr == b""  # silent on success
    [stored] = lab.messages
    assert stored.mail_from == "dev@cdomail.test"
    assert stored.rcpt_tos == ["maintainer@cdomail.test", "list@cdomail.test"]
    assert stored.encrypted
    assert b"\r\n.\r\nmore after a lone dot\r\n" in stored.data.replace(b"\r\n..", b"\r\n.")


def test_php_mail_style_recipients_from_headers_and_bcc_removed(lab: Lab) -> None:
    # PHP's mail(): sendmail -t -i; the recipients, Bcc included, come from the headers.
    message = (b"To: a@cdomail.test\nCc: b@cdomail.test\nBcc: hidden@cdomail.test\n"
               b"From: web@cdomail.test\nSubject: order\n\nThanks.\n")
    completed = run_cli(*server_args(lab), "-t", "-i", stdin=message,
                        program=sendmail_program())
    assert completed.returncode == 0, completed.stderr
    [stored] = lab.messages
    assert sorted(stored.rcpt_tos) == ["a@cdomail.test", "b@cdomail.test",
                                       "hidden@cdomail.test"]
    assert b"hidden" not in stored.data
    assert stored.mail_from == "web@cdomail.test"


def test_t_adds_argument_recipients_to_the_header_ones(lab: Lab) -> None:
    message = b"To: a@cdomail.test\nFrom: web@cdomail.test\nSubject: s\n\nbody\n"
    completed = run_cli(*server_args(lab), "-t", "extra@cdomail.test", stdin=message,
                        program=sendmail_program())
    assert completed.returncode == 0, completed.stderr
    assert lab.messages[0].rcpt_tos == ["a@cdomail.test", "extra@cdomail.test"]


def test_cron_style_adds_a_from_header_and_a_lone_dot_ends_the_message(lab: Lab) -> None:
    # cron: sendmail -FCronDaemon -i -B8BITMIME -oem user; here without -i, to check that a
    # lone "." ends the input as sendmail's default says.
    message = b"Subject: Cron <root@host> run-parts\n\nline one\n.\nnot part of the message\n"
    completed = run_cli(*server_args(lab), "-FCron Daemon", "-f", "root@cdomail.test",
                        "-B8BITMIME", "-oem", "admin@cdomail.test", stdin=message,
                        program=sendmail_program())
    assert completed.returncode == 0, completed.stderr
    [stored] = lab.messages
    parsed = message_from_bytes(stored.data, policy=policy.default)
    assert parsed["From"].addresses[0].display_name == "Cron Daemon"
    assert parsed["From"].addresses[0].addr_spec == "root@cdomail.test"
    assert parsed.get_content().splitlines() == ["line one"]
    assert b"not part" not in stored.data
    assert stored.rcpt_tos == ["admin@cdomail.test"]


def test_subcommand_with_an_account_and_a_password_command(lab: Lab, tmp_path: Path) -> None:
    config = tmp_path / "cdomail" / "config.toml"
    config.parent.mkdir()
    config.write_text(
        "[defaults]\n"
        f'cafile = "{lab.ca_path}"\n'
        "[accounts.lab]\n"
        'host = "localhost"\n'
        f"port = {lab.port('starttls-required')}\n"
        'tls = "starttls"\n'
        'from = "robot@cdomail.test"\n'
        f'username = "{LAB_USER}"\n'
        'password_source = "command:printenv LAB_SECRET"\n')
    completed = run_cli("sendmail", "-a", "lab", "ops@cdomail.test",
                        stdin=b"Subject: nightly\n\nall good\n",
                        env={"XDG_CONFIG_HOME": str(tmp_path), "LAB_SECRET": LAB_PASSWORD})
    assert completed.returncode == 0, completed.stderr
    [stored] = lab.messages
    assert stored.authenticated_as == LAB_USER
    assert stored.mail_from == "robot@cdomail.test"
    assert b"From: robot@cdomail.test" in stored.data
    assert LAB_PASSWORD.encode() not in completed.stdout + completed.stderr


def test_refused_recipient_exits_with_its_sysexits_status(lab: Lab) -> None:
    completed = run_cli(*server_args(lab, "plain"), "--tls", "none", "-f", "a@cdomail.test",
                        "someone@cdomail.test", stdin=b"Subject: s\n\nx\n",
                        program=sendmail_program())
    assert completed.returncode == 0, completed.stderr
    # The same through a listener that demands TLS while we refuse it: 79, one line.
    completed = run_cli(*server_args(lab, "plain"), "-f", "a@cdomail.test",
                        "someone@cdomail.test", stdin=b"Subject: s\n\nx\n",
                        program=sendmail_program())
    assert completed.returncode == 79
    assert completed.stderr.count(b"\n") >= 1 and b"Traceback" not in completed.stderr
    assert len(lab.messages) == 1


def test_verbose_transcript_goes_to_stderr_without_secrets(lab: Lab) -> None:
    completed = run_cli(*server_args(lab, "starttls-required"), "--user", LAB_USER,
                        "--password-env", "LAB_SECRET", "-v", "-f", "a@cdomail.test",
                        "b@cdomail.test", stdin=b"Subject: s\n\nx\n",
                        env={"LAB_SECRET": LAB_PASSWORD}, program=sendmail_program())
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == b""
    assert b"AUTH" in completed.stderr and b"MAIL FROM" in completed.stderr
    assert LAB_PASSWORD.encode() not in completed.stderr
    assert os.environ.get("LAB_SECRET") is None
