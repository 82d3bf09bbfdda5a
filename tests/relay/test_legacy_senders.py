"""Real legacy-style senders through the relay: cdomail.cdo as a CDO script would, swaks, msmtp."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cdomail.cdo import (
    CdoCompatibilityWarning,
    Message,
    cdoBasic,
    cdoSendPassword,
    cdoSendUserName,
    cdoSendUsingMethod,
    cdoSendUsingPort,
    cdoSMTPAuthenticate,
    cdoSMTPServer,
    cdoSMTPServerPort,
    cdoSMTPUseSSL,
)
from cdomail.relay.config import SpoolConfig

from ..interop._programs import require_program
from ._relay import Certificates, RelayThread, relay_toml, running_relay

PRINTER = 'users = { printer = "env:RELAY_TEST_PRINTER" }'


@pytest.fixture(autouse=True)
def _printer_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_TEST_PRINTER", "printer-pw")


def _only_message(relay: RelayThread) -> tuple[bytes, object]:
    with relay.spool() as spool:
        [summary] = spool.list()
        return spool.content(summary.id), spool.show(summary.id)


def _cdo_message(relay: RelayThread, *, port: int, use_ssl: bool, cafile: Path) -> Message:
    """A CDO script configured for "localhost:port"; the TCP connection goes to the relay."""
    message = Message()
    fields = message.Configuration.Fields
    fields.Item(cdoSendUsingMethod).Value = cdoSendUsingPort
    fields.Item(cdoSMTPServer).Value = "localhost"
    fields.Item(cdoSMTPServerPort).Value = port
    fields.Item(cdoSMTPUseSSL).Value = use_ssl
    fields.Item(cdoSMTPAuthenticate).Value = cdoBasic
    fields.Item(cdoSendUserName).Value = "printer"
    fields.Item(cdoSendPassword).Value = "printer-pw"
    fields.Item("urn:cdomail:configuration:connectto").Value = f"127.0.0.1:{relay.port}"
    fields.Item("urn:cdomail:configuration:cafile").Value = str(cafile)
    fields.Update()
    message.From = '"Nightly job" <job@corp.example>'
    message.To = "boss@x.example"
    message.Subject = "Nightly report"
    message.TextBody = "All done.\n"
    return message


@pytest.mark.parametrize(("port", "use_ssl", "listener_tls", "encrypted"), [
    (25, False, "none", False),      # CDO's plaintext port 25 (loopback listener: AUTH allowed)
    (25, True, "starttls", True),    # CDO's rule: smtpusessl on port 25 means STARTTLS
    (465, True, "implicit", True),   # ... and on any other port, TLS from the first byte
])
def test_cdo_port_25_and_465_scripts_reach_the_spool(
        backend: SpoolConfig, certificates: Certificates, port: int, use_ssl: bool,
        listener_tls: str, encrypted: bool) -> None:
    tls = certificates.tls_lines(listener_tls) if listener_tls != "none" else ""
    text = relay_toml(backend, f'address = "127.0.0.1:0"\n{tls}{PRINTER}')
    with running_relay(text) as relay:
        message = _cdo_message(relay, port=port, use_ssl=use_ssl, cafile=certificates.ca_path)
        if use_ssl:
            message.Send()
        else:  # faithful to CDO, with cdomail's warning that the password crossed in clear
            with pytest.warns(CdoCompatibilityWarning, match="unencrypted"):
                message.Send()
        content, detail = _only_message(relay)
    assert b"Subject: Nightly report" in content and b"All done." in content
    arrival = detail.arrival  # type: ignore[attr-defined]
    assert arrival.authenticated_user == "printer"
    assert (arrival.tls_version is not None) is encrypted
    assert message.LastSendResult.encrypted is encrypted


def _sample(marker: str) -> bytes:
    return (f"Subject: {marker}\r\nMessage-ID: <{marker}@legacy.example>\r\n\r\n"
            f"body of {marker}\r\n").encode()


def test_swaks_with_auth_login_over_starttls(backend: SpoolConfig,
                                            certificates: Certificates) -> None:
    swaks = require_program("swaks")
    listen = f'address = "127.0.0.1:0"\n{certificates.tls_lines("starttls")}{PRINTER}'
    with running_relay(relay_toml(backend, listen)) as relay:
        result = subprocess.run(
            [swaks, "--server", "127.0.0.1", "--port", str(relay.port), "--from",
             "swaks@corp.example", "--to", "boss@x.example", "--tls", "--tls-verify",
             "--tls-ca-path", str(certificates.ca_path), "--tls-sni", "localhost",
             "--auth", "LOGIN", "--auth-user", "printer", "--auth-password", "printer-pw",
             "--auth-hide-password", "--data", "-"],
            input=_sample("swaks-1"), capture_output=True, timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        content, detail = _only_message(relay)
    assert _sample("swaks-1") in content  # swaks adds CRLF before the final dot
    assert detail.arrival.tls_version is not None  # type: ignore[attr-defined]
    assert detail.arrival.authenticated_user == "printer"  # type: ignore[attr-defined]


def test_swaks_is_refused_without_auth(backend: SpoolConfig) -> None:
    swaks = require_program("swaks")
    with running_relay(relay_toml(backend, f'address = "127.0.0.1:0"\n{PRINTER}')) as relay:
        result = subprocess.run(
            [swaks, "--server", "127.0.0.1", "--port", str(relay.port), "--from",
             "swaks@corp.example", "--to", "boss@x.example", "--data", "-"],
            input=_sample("swaks-2"), capture_output=True, timeout=60, check=False)
        with relay.spool() as spool:
            assert spool.list() == []
    assert result.returncode != 0 and b"530 5.7.0 Authentication required" in result.stdout


def test_msmtp_over_implicit_tls_with_auth_plain(tmp_path: Path, backend: SpoolConfig,
                                                 certificates: Certificates) -> None:
    msmtp = require_program("msmtp")
    listen = f'address = "127.0.0.1:0"\n{certificates.tls_lines("implicit")}{PRINTER}'
    with running_relay(relay_toml(backend, listen)) as relay:
        rc = tmp_path / "msmtprc"
        rc.write_text("\n".join([
            "account default", "host localhost", f"port {relay.port}",
            "from msmtp@corp.example", "tls on", "tls_starttls off",
            f"tls_trust_file {certificates.ca_path}", "auth plain", "user printer",
            "password printer-pw"]) + "\n")
        rc.chmod(0o600)  # msmtp refuses a readable file holding a password
        result = subprocess.run([msmtp, "--file", str(rc), "boss@x.example"],
                                input=_sample("msmtp-1"), capture_output=True, timeout=60,
                                check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        content, detail = _only_message(relay)
    assert content.endswith(_sample("msmtp-1"))
    assert detail.arrival.tls_version is not None  # type: ignore[attr-defined]
    assert detail.summary.sender == "msmtp@corp.example"  # type: ignore[attr-defined]
