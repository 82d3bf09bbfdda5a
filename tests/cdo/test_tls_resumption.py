"""TLS session resumption on repeated sends (RFC 8446 §2.2), against the lab's real TLS servers.

A one-shot send or CDO ``Send()`` opens a connection per message; the second one to the same
server resumes the first one's session instead of a full handshake. Resumption must never widen
trust: a session is offered again only with the same verification settings (the same shared
context), the same server name and the same address and port, and each ticket only once.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest

import cdomail
from cdomail.cdo import CdoError
from cdomail.lab import Lab
from cdomail.tls import (
    TLSSettings,
    certificate_fingerprint,
    clear_ssl_context_cache,
    keep_session,
    shared_ssl_context,
    take_session,
)

from ._helpers import lab_message

RAW = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: resume\r\n\r\nhello\r\n"


@pytest.fixture(autouse=True)
def _no_sessions_from_other_tests() -> Iterator[None]:
    clear_ssl_context_cache()
    yield
    clear_ssl_context_cache()


def _send(lab: Lab, **options: object) -> cdomail.SendResult:
    options.setdefault("cafile", str(lab.ca_path))
    return cdomail.send(
        RAW, host="localhost", port=465, tls="implicit", sender="a@example.com",
        recipients=["b@example.org"], connect_to=(lab.host, lab.port("smtps")), **options,
    )  # fmt: skip


def _server_fingerprint(lab: Lab) -> str:
    context = ssl.create_default_context(cafile=str(lab.ca_path))
    connection = socket.create_connection((lab.host, lab.port("smtps")))
    with context.wrap_socket(connection, server_hostname="localhost") as sock:
        der = sock.getpeercert(binary_form=True)
    assert der is not None
    return certificate_fingerprint(der)


def test_second_cdo_send_resumes_the_session_and_reports_it_verified(lab: Lab) -> None:
    first = lab_message(lab, "smtps", port=465, use_ssl=True)
    second = lab_message(lab, "smtps", port=465, use_ssl=True)
    first.Send()
    second.Send()
    one, two = first.LastSendResult.tls, second.LastSendResult.tls
    assert (one.resumed, two.resumed) == (False, True)
    assert two.verified is True and two.verified_by == "ca"
    # The certificate of the session is still the server's: what a pin is checked against.
    assert two.fingerprint == one.fingerprint == _server_fingerprint(lab)
    assert [stored.encrypted for stored in lab.messages] == [True, True]


def test_one_shot_sends_resume_one_after_another(lab: Lab) -> None:
    resumed = [_send(lab).tls.resumed for _ in range(3)]  # type: ignore[union-attr]
    assert resumed == [False, True, True]
    assert len(lab.messages) == 3


def test_other_verification_settings_never_resume_the_session(lab: Lab) -> None:
    _send(lab)
    pinned = _send(lab, cafile=None, fingerprint=_server_fingerprint(lab))
    assert pinned.tls is not None
    assert pinned.tls.resumed is False
    assert pinned.tls.verified_by == "fingerprint"
    # Each settings' own session is resumed by the next send with the same settings.
    assert _send(lab).tls.resumed is True  # type: ignore[union-attr]


def test_another_server_name_never_gets_the_session(lab: Lab) -> None:
    _send(lab)
    other_name = _send(lab, server_hostname="127.0.0.1")
    assert other_name.tls is not None and other_name.tls.resumed is False


def test_a_wrong_pin_still_fails_after_a_resumable_session(lab: Lab) -> None:
    right = _server_fingerprint(lab)
    assert _send(lab, cafile=None, fingerprint=right).tls.resumed is False  # type: ignore[union-attr]
    assert _send(lab, cafile=None, fingerprint=right).tls.resumed is True  # type: ignore[union-attr]
    wrong = ("00" if not right.startswith("00") else "11") + right[2:]
    with pytest.raises(cdomail.FingerprintMismatch):
        _send(lab, cafile=None, fingerprint=wrong)
    assert len(lab.messages) == 2


def test_cdo_send_with_an_untrusted_server_fails_even_after_a_verified_session(lab: Lab) -> None:
    lab_message(lab, "smtps", port=465, use_ssl=True).Send()
    untrusted = lab_message(lab, "smtps", port=465, use_ssl=True)
    # No cafile: the system store does not trust the lab's CA, so a different context is
    # used and the verified session of the first send must not carry over.
    untrusted.Configuration.Fields["urn:cdomail:configuration:cafile"] = None
    untrusted.Configuration.Fields.Update()
    with pytest.raises(CdoError) as info:
        untrusted.Send()
    assert info.value.hresult == 0x80040213  # CDO_E_FAILED_TO_CONNECT
    assert len(lab.messages) == 1


def test_a_ticket_is_handed_out_once(lab: Lab) -> None:
    _send(lab)
    context = shared_ssl_context(TLSSettings(cafile=str(lab.ca_path)))
    address = (lab.host, lab.port("smtps"))
    session = take_session(context, "localhost", address)
    assert session is not None and session.has_ticket
    assert take_session(context, "localhost", address) is None
    keep_session(context, "localhost", address, session)
    assert take_session(context, "localhost", (lab.host, address[1] + 1)) is None
    assert take_session(context, "localhost", address) is session


def test_clearing_the_context_cache_forgets_the_sessions(lab: Lab) -> None:
    _send(lab)
    clear_ssl_context_cache()
    assert _send(lab).tls.resumed is False  # type: ignore[union-attr]
