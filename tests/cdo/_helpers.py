"""Shared helpers for the CDO tests that send through the lab."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdomail.cdo import (
    Message,
    cdoSendUsingMethod,
    cdoSendUsingPort,
    cdoSMTPConnectionTimeout,
    cdoSMTPServer,
    cdoSMTPServerPort,
    cdoSMTPUseSSL,
)
from cdomail.lab import Lab

CONNECT_TO = "urn:cdomail:configuration:connectto"
CAFILE = "urn:cdomail:configuration:cafile"


def lab_message(
    lab: Lab,
    listener: str,
    *,
    port: int,
    use_ssl: bool,
    timeout: int = 5,
    fields: Mapping[str, Any] | None = None,
) -> Message:
    """A ready-to-send message whose *configured* port is ``port``.

    The TCP connection really goes to the lab listener (``connectto``), like the port-forwarding
    experiment: CDO's rule and the certificate check use the configured ``localhost:port``.
    """
    msg = Message()
    f = msg.Configuration.Fields
    f.Item(cdoSendUsingMethod).Value = cdoSendUsingPort
    f.Item(cdoSMTPServer).Value = "localhost"
    f.Item(cdoSMTPServerPort).Value = port
    f.Item(cdoSMTPUseSSL).Value = use_ssl
    f.Item(cdoSMTPConnectionTimeout).Value = timeout
    f.Item(CONNECT_TO).Value = f"{lab.host}:{lab.port(listener)}"
    f.Item(CAFILE).Value = str(lab.ca_path)
    for name, value in (fields or {}).items():
        f.Item(name).Value = value
    f.Update()
    msg.From = '"Sender" <sender@example.com>'
    msg.To = "rcpt@example.org"
    msg.Subject = "CDO behaviour"
    msg.TextBody = "hello from CDO\n"
    return msg


def commands(lab: Lab) -> list[tuple[str, bool]]:
    """Every command of every session so far, as (VERB, tls)."""
    lab.wait_sessions_closed()
    return [entry for session in lab.sessions for entry in session.commands()]
