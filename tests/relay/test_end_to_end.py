"""A legacy sender -> `run_relay` -> an XOAUTH2 upstream over implicit TLS, all real parts."""

from __future__ import annotations

import smtplib
import time
from pathlib import Path

import pytest

from cdomail.lab import Lab, xoauth2
from cdomail.relay.config import SpoolConfig
from cdomail.testing.token_endpoint import TokenEndpoint

from ._relay import running_relay, spool_table

MAILBOX = "sender@contoso.test"
RECIPIENTS = ["a@example.test", "b@example.test", "c@example.test"]


def wait_until(condition: object, timeout: float = 20.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_helo_sender_through_the_relay_to_an_oauth2_upstream(
    token_endpoint: TokenEndpoint, lab_certs_dir: Path, tmp_path: Path,
    backend: SpoolConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_endpoint.add_client("relay-app", "app-secret")
    token_endpoint.lifetime = 3600
    monkeypatch.setenv("CLIENT_SECRET", "app-secret")
    with Lab({"smtps": 0}, auth_mechanisms={"XOAUTH2": xoauth2(token_endpoint.validate)},
             auth_required=True, certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        config = f"""
[[listen]]
address = "127.0.0.1:0"

{spool_table(backend)}
[upstream]
host = "{lab.host}"
port = {lab.port("smtps")}
tls = "implicit"
cafile = "{lab.ca_path}"
auth = "xoauth2"
username = "{MAILBOX}"

[upstream.oauth2]
token_url = "{token_endpoint.url}"
client_id = "relay-app"
client_secret = "env:CLIENT_SECRET"
scope = "https://outlook.office365.com/.default"
cafile = "{lab.ca_path}"
"""
        with running_relay(config) as relay:
            # What a CDO-era script does: HELO, no PIPELINING, 8-bit body.
            for number in range(3):
                with smtplib.SMTP("127.0.0.1", relay.port) as legacy:
                    legacy.helo("old-erp")
                    legacy.sendmail("erp@corp.test", RECIPIENTS,
                                    f"Message-ID: <e2e-{number}@corp.test>\r\nSubject: invoice"
                                    f"\r\n\r\nMontant d\xfb: {number}\r\n".encode("latin-1"))
            with relay.spool() as spool:
                wait_until(lambda: spool.counts()["delivered"] == 9)
                counts = spool.counts()
                summaries = spool.list()
                details = [spool.show(s.id) for s in summaries]
        # Every accepted recipient is in exactly one state, and that state is delivered.
        assert counts["delivered"] == 9 and sum(counts.values()) == 9, counts
        for detail in details:
            assert detail.arrival.helo == "old-erp" and detail.arrival.tls_version is None
            (attempt,) = detail.attempts
            assert attempt.cert_verified is True and attempt.tls_version is not None
            assert attempt.reply is not None and attempt.reply.startswith("250")
        assert len(lab.messages) == 3 and token_endpoint.requests == 1
        for message in lab.messages:
            assert message.encrypted and message.authenticated_as == MAILBOX
            assert sorted(message.rcpt_tos) == RECIPIENTS
            assert b"Montant d\xfb" in message.data  # 8-bit body carried unchanged
        ids = {m.data.split(b"Message-ID: ")[1].split(b"\r\n")[0] for m in lab.messages}
        assert ids == {b"<e2e-0@corp.test>", b"<e2e-1@corp.test>", b"<e2e-2@corp.test>"}
