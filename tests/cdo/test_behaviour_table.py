"""Every row of CDO's encryption behaviour table (``smtpusessl`` x configured port), reproduced
against the lab.

Ports are *configured* ports (25, 465, 587, 2525); the TCP connection goes to the lab listener
through ``urn:cdomail:configuration:connectto``, as in the original port-forwarding experiment.
"""

from __future__ import annotations

import time

import pytest

from cdomail.cdo import CdoError
from cdomail.errors import ConnectTimeout, SenderRefused, TLSError, TLSRequired
from cdomail.lab import Lab

from ._helpers import commands, lab_message

FAILED_TO_CONNECT = 0x80040213


@pytest.mark.parametrize("port", [25, 587, 2525])
@pytest.mark.parametrize("listener", ["plain", "starttls"])
def test_no_ssl_sends_unencrypted_and_never_starttls(lab: Lab, listener: str, port: int) -> None:
    msg = lab_message(lab, listener, port=port, use_ssl=False)
    msg.Send()
    assert msg.LastSendResult.encrypted is False
    [stored] = lab.messages
    assert stored.encrypted is False
    assert b"hello from CDO" in stored.data
    verbs = commands(lab)
    assert ("STARTTLS", False) not in verbs
    assert ("MAIL", False) in verbs
    assert ("DATA", False) in verbs  # CDO never uses BDAT


@pytest.mark.parametrize("port", [25, 587])
def test_no_ssl_against_mandatory_starttls_is_sender_rejected(lab: Lab, port: int) -> None:
    msg = lab_message(lab, "starttls-required", port=port, use_ssl=False)
    with pytest.raises(CdoError) as info:
        msg.Send()
    error = info.value
    assert error.hresult == 0x8004020E
    assert error.number == -2147220978
    assert error.server_response.startswith("530")
    assert "STARTTLS" in error.description
    assert isinstance(error.__cause__, SenderRefused)
    assert lab.messages == []
    assert ("STARTTLS", False) not in commands(lab)


@pytest.mark.parametrize(("use_ssl", "port"), [(False, 465), (False, 25), (True, 25)])
def test_plain_connect_to_implicit_tls_times_out(lab: Lab, use_ssl: bool, port: int) -> None:
    msg = lab_message(lab, "smtps", port=port, use_ssl=use_ssl, timeout=1)
    started = time.monotonic()
    with pytest.raises(CdoError) as info:
        msg.Send()
    elapsed = time.monotonic() - started
    assert info.value.hresult == FAILED_TO_CONNECT
    assert isinstance(info.value.__cause__, ConnectTimeout)
    assert elapsed >= 1.0  # waited smtpconnectiontimeout for a greeting that never came
    assert lab.messages == []


@pytest.mark.parametrize("listener", ["starttls", "starttls-required"])
def test_ssl_on_port_25_uses_starttls(lab: Lab, listener: str) -> None:
    msg = lab_message(lab, listener, port=25, use_ssl=True)
    msg.Send()
    result = msg.LastSendResult
    assert result.encrypted is True
    assert result.tls_mode == "starttls"
    [stored] = lab.messages
    assert stored.encrypted is True
    verbs = commands(lab)
    assert verbs[:3] == [("EHLO", False), ("STARTTLS", False), ("EHLO", True)]
    assert ("MAIL", True) in verbs


def test_ssl_on_port_25_without_starttls_fails_to_connect(lab: Lab) -> None:
    msg = lab_message(lab, "plain", port=25, use_ssl=True)
    with pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == FAILED_TO_CONNECT
    assert info.value.description == "The transport failed to connect to the server."
    assert isinstance(info.value.__cause__, TLSRequired)
    verbs = commands(lab)
    assert ("EHLO", False) in verbs  # it did connect: the error text is misleading
    assert not any(verb in ("MAIL", "AUTH", "STARTTLS") for verb, _ in verbs)


@pytest.mark.parametrize("port", [465, 587, 2525])
def test_ssl_on_other_ports_is_implicit_tls(lab: Lab, port: int) -> None:
    msg = lab_message(lab, "smtps", port=port, use_ssl=True)
    msg.Send()
    assert msg.LastSendResult.encrypted is True
    assert msg.LastSendResult.tls_mode == "implicit"
    [stored] = lab.messages
    assert stored.encrypted is True
    verbs = commands(lab)
    assert ("STARTTLS", False) not in verbs
    assert ("STARTTLS", True) not in verbs
    assert all(tls for _, tls in verbs)


@pytest.mark.parametrize("listener", ["plain", "starttls"])
@pytest.mark.parametrize("port", [465, 587])
def test_ssl_on_other_ports_against_plaintext_fails_at_once(
    lab: Lab, listener: str, port: int
) -> None:
    msg = lab_message(lab, listener, port=port, use_ssl=True, timeout=30)
    started = time.monotonic()
    with pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == FAILED_TO_CONNECT
    assert isinstance(info.value.__cause__, TLSError)
    assert time.monotonic() - started < 30  # no timeout involved: the handshake broke
    assert lab.messages == []
    # The server only ever read our TLS ClientHello as a garbage line: no SMTP command.
    assert not {"EHLO", "HELO", "AUTH", "MAIL", "RCPT", "DATA"} & {v for v, _ in commands(lab)}


def test_port_forwarding_experiment(lab: Lab) -> None:
    """Same STARTTLS listener: configured 25 works with STARTTLS, configured 587 fails."""
    as_25 = lab_message(lab, "starttls", port=25, use_ssl=True)
    as_25.Send()
    assert as_25.LastSendResult.encrypted is True
    assert ("STARTTLS", False) in commands(lab)
    as_587 = lab_message(lab, "starttls", port=587, use_ssl=True)
    with pytest.raises(CdoError) as info:
        as_587.Send()
    assert info.value.hresult == FAILED_TO_CONNECT
    assert len(lab.messages) == 1


def test_tlsmode_lets_a_ported_script_do_starttls_on_587(lab: Lab) -> None:
    msg = lab_message(lab, "starttls-required", port=587, use_ssl=True,
                      fields={"urn:cdomail:configuration:tlsmode": "starttls"})
    msg.Send()
    assert msg.LastSendResult.encrypted is True
    assert lab.messages[0].encrypted is True
