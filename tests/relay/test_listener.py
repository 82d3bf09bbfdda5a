"""The intake with legacy-style senders (smtplib), its refusals, and 250 only once stored."""

from __future__ import annotations

import smtplib
import socket
import ssl
from pathlib import Path

import pytest

from cdomail.relay.config import SpoolConfig
from cdomail.relay.queue import open_queue
from cdomail.relay.spool import Spool
from tests._leaks import leak_reports

from ._relay import Certificates, RelayThread, refuse_recipient, relay_toml, running_relay

PRINTER = 'users = { printer = "env:RELAY_TEST_PRINTER" }'
BODY = b"Subject: scan\r\nMessage-ID: <scan-1@printer.example>\r\n\r\nhello\r\n"


@pytest.fixture(autouse=True)
def _printer_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_TEST_PRINTER", "printer-pw")


def _stored(relay: RelayThread) -> list[tuple[str, bytes]]:
    with relay.spool() as spool:
        return [(s.id, spool.content(s.id)) for s in spool.list()]


def test_helo_without_auth_is_stored_with_its_arrival_facts(backend: SpoolConfig) -> None:
    with running_relay(relay_toml(backend, 'address = "127.0.0.1:0"')) as relay:
        client = smtplib.SMTP("127.0.0.1", relay.port)
        assert client.helo("oldbox")[0] == 250
        refused = client.sendmail("app@corp.example", ["a@x.example", "b@y.example"], BODY)
        client.quit()
        assert refused == {}
        [(message_id, content)] = _stored(relay)
        with relay.spool() as spool:
            detail = spool.show(message_id)
    assert content.endswith(BODY) and content.startswith(b"Received: from oldbox ([127.0.0.1])")
    assert b"with SMTP;" in content  # HELO, no TLS, no AUTH (RFC 3848 protocol names)
    assert detail.message_id_header == "<scan-1@printer.example>"
    assert [r.address for r in detail.recipients] == ["a@x.example", "b@y.example"]
    assert detail.arrival.helo == "oldbox" and detail.arrival.tls_version is None
    assert detail.arrival.authenticated_user is None and not detail.arrival.bare_lf_normalised
    assert detail.summary.sender == "app@corp.example" and detail.summary.state == "queued"


def test_auth_login_then_send_records_the_user(backend: SpoolConfig) -> None:
    with running_relay(relay_toml(backend, 'address = "127.0.0.1:0"\n' + PRINTER)) as relay:
        client = smtplib.SMTP("127.0.0.1", relay.port)
        client.ehlo("scanner")
        assert "LOGIN" in client.esmtp_features["auth"]
        client.user, client.password = "printer", "printer-pw"
        assert client.auth("LOGIN", client.auth_login)[0] == 235
        client.sendmail("scanner@corp.example", ["boss@x.example"], BODY)
        client.quit()
        [(message_id, content)] = _stored(relay)
        with relay.spool() as spool:
            arrival = spool.show(message_id).arrival
    assert arrival.authenticated_user == "printer" and b"with ESMTPA;" in content


def test_a_missing_message_id_is_added_so_duplicates_are_recognisable(backend: SpoolConfig) -> None:
    with running_relay(relay_toml(backend, 'address = "127.0.0.1:0"')) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            client.sendmail("a@corp.example", ["b@x.example"], b"Subject: no id\r\n\r\nhi\r\n")
        [(message_id, content)] = _stored(relay)
        with relay.spool() as spool:
            header = spool.show(message_id).message_id_header
    assert header is not None and f"Message-ID: {header}\r\n".encode() in content


def test_bare_lf_is_normalised_and_recorded_8bit_kept(backend: SpoolConfig) -> None:
    body = b"Subject: caf\xc3\xa9\nContent-Type: text/plain; charset=latin-1\n\n\xe9t\xe9\nend\n"
    with running_relay(relay_toml(backend, 'address = "127.0.0.1:0"')) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            client.ehlo("old")
            # smtplib itself turns bare LF into CRLF; send the raw DATA as a legacy client would
            client.mail("a@corp.example", ["BODY=8BITMIME"])
            client.rcpt("b@x.example")
            client.putcmd("DATA")
            assert client.getreply()[0] == 354
            client.send(body + b"\r\n.\r\n")
            code, text = client.getreply()
        assert code == 250, text
        [(message_id, content)] = _stored(relay)
        with relay.spool() as spool:
            assert spool.show(message_id).arrival.bare_lf_normalised is True
    # the legacy client ends DATA with CRLF.CRLF after its last bare LF: one empty line more
    assert content.endswith(body.replace(b"\n", b"\r\n") + b"\r\n")
    assert b"\xe9t\xe9\r\nend\r\n" in content


def test_outside_the_allow_list_nobody_relays(backend: SpoolConfig) -> None:
    text = relay_toml(backend, f'address = "127.0.0.1:0"\nallow = ["10.0.0.0/8"]\n{PRINTER}')
    with running_relay(text) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            client.login("printer", "printer-pw")  # even authenticated
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail("a@corp.example", ["b@x.example"], BODY)
        assert _stored(relay) == []
    code, reply = refused.value.recipients["b@x.example"]
    assert code == 550 and b"127.0.0.1 is not in this relay's allow list" in reply


def test_without_auth_nobody_relays_when_users_are_configured(backend: SpoolConfig) -> None:
    with running_relay(relay_toml(backend, 'address = "127.0.0.1:0"\n' + PRINTER)) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("a@corp.example", ["b@x.example"], BODY)
            assert refused.value.smtp_code == 530
            with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
                client.login("printer", "not-the-password")
            assert wrong.value.smtp_code == 535
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("a@corp.example", ["b@x.example"], BODY)
        assert _stored(relay) == []


def test_auth_over_plaintext_is_refused_on_a_non_loopback_listener(backend: SpoolConfig) -> None:
    # 0.0.0.0 listens on every interface: passwords could cross a network in clear.
    with running_relay(relay_toml(backend, 'address = "0.0.0.0:0"\n' + PRINTER)) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            client.ehlo("printer")
            assert not client.has_extn("auth")
            code, reply = client.docmd("AUTH", "PLAIN AHByaW50ZXIAcHJpbnRlci1wdw==")
            assert code == 538 and b"Encryption required" in reply
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("a@corp.example", ["b@x.example"], BODY)
        assert _stored(relay) == []


def test_starttls_then_auth_on_a_non_loopback_listener(backend: SpoolConfig,
                                                       certificates: Certificates) -> None:
    listen = f'address = "0.0.0.0:0"\n{certificates.tls_lines("starttls")}{PRINTER}'
    context = ssl.create_default_context(cafile=str(certificates.ca_path))
    with running_relay(relay_toml(backend, listen)) as relay:
        with smtplib.SMTP("localhost", relay.port) as client:
            client.starttls(context=context)
            client.login("printer", "printer-pw")
            client.sendmail("a@corp.example", ["b@x.example"], BODY)
        [(message_id, content)] = _stored(relay)
        with relay.spool() as spool:
            arrival = spool.show(message_id).arrival
    assert arrival.tls_version in ("TLSv1.2", "TLSv1.3") and arrival.tls_cipher
    assert arrival.authenticated_user == "printer" and b"with ESMTPSA (TLSv1." in content


def test_implicit_tls_with_auth_works_despite_aiosmtpd_issue_274(
        backend: SpoolConfig, certificates: Certificates) -> None:
    listen = f'address = "0.0.0.0:0"\n{certificates.tls_lines("implicit")}{PRINTER}'
    context = ssl.create_default_context(cafile=str(certificates.ca_path))
    with running_relay(relay_toml(backend, listen)) as relay:
        with smtplib.SMTP_SSL("localhost", relay.port, context=context) as client:
            client.ehlo("scanner")
            assert "PLAIN" in client.esmtp_features["auth"]
            client.login("printer", "printer-pw")
            client.sendmail("a@corp.example", ["b@x.example"], BODY)
        [(message_id, _)] = _stored(relay)
        with relay.spool() as spool:
            arrival = spool.show(message_id).arrival
    assert arrival.tls_version is not None and arrival.authenticated_user == "printer"


def test_max_message_size_is_advertised_and_enforced(backend: SpoolConfig) -> None:
    listen = 'address = "127.0.0.1:0"\nmax_message_size = 2000'
    with running_relay(relay_toml(backend, listen)) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            client.ehlo("x")
            assert client.esmtp_features["size"] == "2000"
            code, _ = client.docmd("MAIL FROM:<a@corp.example> SIZE=5000")
            assert code == 552
            client.rset()
            client.docmd("MAIL FROM:<a@corp.example>")
            client.docmd("RCPT TO:<b@x.example>")
            assert client.docmd("DATA")[0] == 354
            client.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 50 + b".\r\n")
            assert client.getreply()[0] == 552
            assert client.sendmail("a@corp.example", ["b@x.example"], BODY) == {}
        assert len(_stored(relay)) == 1  # only the small one


def test_a_spool_failure_answers_451_and_keeps_nothing(backend: SpoolConfig) -> None:
    with running_relay(relay_toml(backend, 'address = "127.0.0.1:0"')) as relay:
        with relay.spool() as spool:  # a real failure inside the real database
            refuse_recipient(spool, "poison@x.example")
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            with pytest.raises(smtplib.SMTPDataError) as failed:
                client.sendmail("a@corp.example", ["ok@x.example", "poison@x.example"], BODY)
            assert failed.value.smtp_code == 451
            assert client.sendmail("a@corp.example", ["ok@x.example"], BODY) == {}
        stored = _stored(relay)
    assert len(stored) == 1
    with open_queue(backend) as spool:
        assert [r.address for r in spool.show(stored[0][0]).recipients] == ["ok@x.example"]


# SQLite only: the injected SQLITE_FULL (max_page_count) has no PostgreSQL counterpart here.
def test_database_full_answers_452_and_keeps_earlier_mail(tmp_path: Path) -> None:
    """Injected: SQLite's own size cap (max_page_count) gives the real SQLITE_FULL error."""
    with running_relay(relay_toml(tmp_path, 'address = "127.0.0.1:0"')) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            for _ in range(3):
                client.sendmail("a@corp.example", ["b@x.example"], BODY)
        # the relay's own connection: cap the file at its current size
        db = relay.own_spool._db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        big = BODY + (b"x" * 70 + b"\r\n") * 1000
        with smtplib.SMTP("127.0.0.1", relay.port) as client, pytest.raises(
                smtplib.SMTPDataError) as full:
            client.sendmail("a@corp.example", ["b@x.example"], big)
        assert full.value.smtp_code == 452
        assert len(_stored(relay)) == 3


def test_two_listeners_with_their_own_rules_share_one_spool(backend: SpoolConfig) -> None:
    text = relay_toml(backend, 'address = "127.0.0.1:0"', f'address = "[::1]:0"\n{PRINTER}')
    with running_relay(text) as relay:
        (_, open_port), (v6_host, v6_port) = relay.addresses
        assert v6_host == "::1"
        with smtplib.SMTP("127.0.0.1", open_port) as client:
            client.sendmail("a@corp.example", ["b@x.example"], BODY)
        with smtplib.SMTP("::1", v6_port) as client:
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("a@corp.example", ["b@x.example"], BODY)
            client.login("printer", "printer-pw")
            client.sendmail("a@corp.example", ["c@x.example"], BODY)
        with relay.spool() as spool:
            clients = sorted(spool.show(s.id).arrival.client_address for s in spool.list())
    assert clients == ["127.0.0.1", "::1"]


# Once, not per backend: the intake's password check never touches the queue.
def test_resolved_passwords_never_show_in_a_repr(tmp_path: Path) -> None:
    from cdomail.relay._group_commit import GroupCommitter
    from cdomail.relay.config import parse_config
    from cdomail.relay.listener import Intake

    config = parse_config(relay_toml(tmp_path, f'address = "127.0.0.1:0"\n{PRINTER}'))
    with Spool.open(tmp_path) as spool:
        intake = Intake.build(config.listeners[0], GroupCommitter(spool), "relay.test")
    assert intake.check_password(b"printer", b"printer-pw")
    assert not intake.check_password(b"printer", b"wrong")
    assert not intake.check_password(b"nobody", b"printer-pw")
    assert "printer-pw" not in repr(intake) and "printer-pw" not in repr(config)



# Once, not per backend: the allow list is decided before the queue is involved.
def test_allow_list_matches_ipv4_mapped_and_scoped_addresses(tmp_path: Path) -> None:
    from cdomail.relay._group_commit import GroupCommitter
    from cdomail.relay.config import parse_config
    from cdomail.relay.listener import Intake

    text = relay_toml(tmp_path, 'address = "[::1]:0"\nallow = ["192.168.10.0/24", "fe80::/10"]')
    with Spool.open(tmp_path) as spool:
        intake = Intake.build(parse_config(text).listeners[0], GroupCommitter(spool), "r.test")
    assert intake.allowed("192.168.10.7") and intake.allowed("::ffff:192.168.10.7")
    assert intake.allowed("fe80::1%eth0")
    assert not intake.allowed("192.168.11.7") and not intake.allowed("::ffff:10.0.0.1")
    assert not intake.allowed("unknown")


def test_a_sender_that_hangs_up_mid_data_leaves_nothing(backend: SpoolConfig) -> None:
    with running_relay(relay_toml(backend, 'address = "127.0.0.1:0"')) as relay:
        client = smtplib.SMTP("127.0.0.1", relay.port)
        client.ehlo("flaky")
        client.docmd("MAIL FROM:<a@corp.example>")
        client.docmd("RCPT TO:<b@x.example>")
        assert client.docmd("DATA")[0] == 354
        client.send(b"Subject: half\r\n\r\nthe first half of the body\r\n")
        client.close()  # no final dot: the message never ended
        with smtplib.SMTP("127.0.0.1", relay.port) as again:  # the relay still serves
            again.sendmail("a@corp.example", ["b@x.example"], BODY)
        stored = _stored(relay)
    assert [content.endswith(BODY) for _, content in stored] == [True]


@pytest.mark.parametrize("tls", ["none", "implicit"])
def test_stopping_right_after_a_connection_leaves_nothing_open(
        tmp_path: Path, certificates: Certificates, tls: str) -> None:
    # Stopping while the loop is still accepting a connection used to break the transport
    # being built (Python 3.11's Server.close() race, see cdomail._server_close) and leave it
    # and its socket to the garbage collector. Without the fix about half the rounds leaked.
    listen = 'address = "127.0.0.1:0"\n' + (certificates.tls_lines(tls) if tls != "none" else "")
    with leak_reports() as leaks:
        for round_number in range(10):
            with running_relay(relay_toml(tmp_path / f"spool-{round_number}.db",
                                          listen)) as relay:
                socket.create_connection(("127.0.0.1", relay.port)).close()
    assert leaks == []
