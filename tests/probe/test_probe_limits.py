"""The probe's time limits: a per-command timeout that covers a whole reply and the TLS handshake
after STARTTLS, and an overall deadline (RFC 5321 §4.5.3.2), against hostile servers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cdomail.errors import ConfigurationError
from cdomail.probe import ProbeReport, probe
from tests._server import CertificateSet, Handshake, Reply, Script, TLSSetup, ehlo_reply
from tests._server.fixtures import ServerFactory, certs, hostile

__all__ = ["certs", "hostile"]  # the hostile server's fixtures, used below

#: What a patient per-read timeout would allow: far more than any test here may take.
PATIENT = 5.0
#: A reply of about 1000 bytes, one byte every 10 ms: ten seconds if every read is timed alone.
TRICKLED_EHLO = Reply(ehlo_reply("hostile.test", [f"X-PAD-{i:04d}" for i in range(60)]),
                      trickle=(1, 0.01))


def timed_probe(port: int, certs: CertificateSet, **limits: Any) -> tuple[ProbeReport, float]:
    started = time.monotonic()
    report = asyncio.run(probe("localhost", [port], cafile=str(certs.ca_path), **limits))
    return report, time.monotonic() - started


@pytest.mark.parametrize("limit", ["command_timeout", "deadline"])
def test_a_handshake_stalled_after_starttls_is_bounded(
    hostile: ServerFactory, certs: CertificateSet, limit: str
) -> None:
    server = hostile(Script(tls=TLSSetup.STARTTLS, handshake=Handshake.STALL))
    report, elapsed = timed_probe(server.port, certs, timeout=PATIENT, **{limit: 0.8})
    assert elapsed < 3.0
    port = report.port(server.port)
    assert port.starttls_offered
    assert port.tls is None  # never counted as encrypted
    assert any("handshake" in note.lower() or "deadline" in note for note in port.notes)


@pytest.mark.parametrize("limit", ["command_timeout", "deadline"])
def test_a_trickled_reply_is_bounded(
    hostile: ServerFactory, certs: CertificateSet, limit: str
) -> None:
    server = hostile(Script(replies={"EHLO": TRICKLED_EHLO}))
    report, elapsed = timed_probe(server.port, certs, timeout=PATIENT, **{limit: 1.0})
    assert elapsed < 4.0
    port = report.port(server.port)
    assert not port.starttls_offered  # the EHLO never arrived whole
    assert any("did not arrive completely" in note or "deadline" in note
               for note in port.notes)


def test_a_trickled_reply_within_the_limits_is_read(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    """The per-command timeout covers a whole reply; a quick trickle still gets through."""
    fast = Reply(ehlo_reply("hostile.test", ["STARTTLS", "PIPELINING"]), trickle=(8, 0.001))
    server = hostile(Script(replies={"EHLO": fast}))
    report, _ = timed_probe(server.port, certs, timeout=PATIENT, command_timeout=3.0)
    assert report.port(server.port).starttls_offered


@pytest.mark.parametrize("name", ["command_timeout", "deadline"])
@pytest.mark.parametrize("value", [0, -1, True, "5"])
def test_bad_limits_are_refused_before_connecting(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        asyncio.run(probe("localhost", [25], **{name: value}))  # type: ignore[arg-type]
    assert info.value.field == name
