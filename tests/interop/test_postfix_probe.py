"""``cdomail probe`` against the private Postfix: verdicts, facts and CDO predictions per listener.

Each listener is probed under its real (high) port number, so the CDO predictions are those
for that configured port: ``smtpusessl=True`` means implicit TLS on every port but 25. The
probe's facts are checked against Postfix's configuration (tests/interop/_postfix.py), against
what cdomail's client sees when it sends there, and its CDO predictions against what
``cdomail.cdo`` really does on the same port.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
from typing import TYPE_CHECKING, Any

import pytest

from ._delivered import new_marker
from ._postfix import LISTENERS, SASL_PASSWORD, SASL_USERNAME
from ._programs import require_program, skip_or_fail

if TYPE_CHECKING:
    from cdomail.probe import PortReport, ProbeReport

    from ._postfix import PostfixInstance

pytestmark = pytest.mark.interop

# The smtps listener never greets in plaintext, so every probe takes one timeout; keep it
# short, but long enough for a TLS handshake on a busy test machine.
PROBE_TIMEOUT = 3.0
TLS_LISTENERS = ("starttls", "starttls-required", "smtps")
FEATURES_AFTER_TLS = ("CHUNKING", "PIPELINING", "SMTPUTF8", "8BITMIME")

VERDICTS = {
    # listener: (with check_required, without)
    "plain": ("plaintext-only", "plaintext-only"),
    "starttls": ("starttls-optional", "starttls"),
    "starttls-required": ("starttls-required", "starttls"),
    "smtps": ("smtps", "smtps"),
}


def _probe_api() -> Any:
    try:
        from cdomail import probe
    except ImportError as error:
        skip_or_fail(f"cdomail.probe is not importable: {error}")
    return probe


def _probe(postfix: PostfixInstance, listeners: tuple[str, ...], **options: Any) -> Any:
    """A probe coroutine for *listeners*, each configured as its real port.

    The name probed is the certificate's (``postfix.example.test``); ``connect_to`` sends
    every configured port to the same port on 127.0.0.1, where Postfix listens.
    """
    ports = [postfix.port(name) for name in listeners]
    return _probe_api().probe(
        postfix.hostname, ports, timeout=PROBE_TIMEOUT, cafile=str(postfix.ca_path),
        connect_to={port: (postfix.host, port) for port in ports},
        local_hostname="probe.example.test", **options,
    )


@pytest.fixture(scope="module")
def reports(postfix: PostfixInstance) -> dict[str, ProbeReport]:
    """Four probes at once (about one timeout in all): with and without ``check_required``,
    and with good and bad credentials on the two listeners that speak TLS at once or soon."""

    async def run_all() -> list[ProbeReport]:
        logins = ("starttls", "smtps")
        return list(await asyncio.gather(
            _probe(postfix, LISTENERS, check_required=True),
            _probe(postfix, LISTENERS, check_required=False),
            _probe(postfix, logins, login=(SASL_USERNAME, SASL_PASSWORD)),
            _probe(postfix, logins, login=(SASL_USERNAME, "not-the-password")),
        ))

    checked, unchecked, good_login, bad_login = asyncio.run(run_all())
    return {"checked": checked, "unchecked": unchecked, "good-login": good_login,
            "bad-login": bad_login}


def _port(postfix: PostfixInstance, report: ProbeReport, listener: str) -> PortReport:
    return report.port(postfix.port(listener))


@pytest.mark.parametrize("check_required", [True, False], ids=["checked", "unchecked"])
@pytest.mark.parametrize("listener", LISTENERS)
def test_verdict(
    postfix: PostfixInstance, reports: dict[str, ProbeReport], listener: str,
    check_required: bool,
) -> None:
    report = reports["checked" if check_required else "unchecked"]
    port = _port(postfix, report, listener)
    expected = VERDICTS[listener][0 if check_required else 1]
    assert port.verdict.value == expected, port.notes
    # The report names the real port and the address really connected to.
    assert port.port == postfix.port(listener)
    assert port.address == f"{postfix.host}:{postfix.port(listener)}"
    assert port.reachable
    assert port.implicit_tls == (listener == "smtps")
    assert port.starttls_offered == (listener in ("starttls", "starttls-required"))
    if listener in ("starttls", "starttls-required") and check_required:
        assert port.starttls_required == (listener == "starttls-required")
        assert port.mail_before_tls is not None
        # smtpd_tls_security_level=encrypt: "530 5.7.0 Must issue a STARTTLS command first".
        assert port.mail_before_tls.code == (530 if listener == "starttls-required" else 250)
    else:
        assert port.starttls_required is None


def test_the_report_lists_every_listener_in_order(
    postfix: PostfixInstance, reports: dict[str, ProbeReport]
) -> None:
    report = reports["checked"]
    assert report.host == postfix.hostname
    assert [p.port for p in report.ports] == [postfix.port(name) for name in LISTENERS]
    document = json.loads(report.to_json())
    assert [p["verdict"] for p in document["ports"]] == [VERDICTS[name][0] for name in LISTENERS]
    assert [p["address"] for p in document["ports"]] == [
        f"{postfix.host}:{postfix.port(name)}" for name in LISTENERS]
    # Only the smtps listener lets CDO send encrypted (implicit TLS on a port other than 25).
    assert report.summary()["cdo"] == (
        f"smtpserverport={postfix.port('smtps')}, smtpusessl=True")


@pytest.mark.parametrize("listener", LISTENERS)
def test_extensions_and_tls_session(
    postfix: PostfixInstance, reports: dict[str, ProbeReport], listener: str
) -> None:
    port = _port(postfix, reports["checked"], listener)
    features = port.features()
    for name in FEATURES_AFTER_TLS:
        assert features[name] is True, name
    assert features["SIZE"] == 50_000_000  # message_size_limit in the fixture's main.cf
    if listener == "plain":
        assert port.tls is None and port.extensions_after_tls is None
        assert port.extensions_before_tls is not None
        assert not port.extensions_before_tls.has("STARTTLS")
        return
    assert port.extensions_after_tls is not None
    assert not port.extensions_after_tls.has("STARTTLS")  # RFC 3207 §4.2
    if listener != "smtps":
        assert port.extensions_before_tls is not None
        assert port.extensions_before_tls.has("STARTTLS")
    assert port.tls is not None
    assert port.tls.mode == ("implicit" if listener == "smtps" else "starttls")
    assert port.tls.verified is True
    assert port.tls.version in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("listener", LISTENERS)
def test_auth_is_offered_only_inside_tls(
    postfix: PostfixInstance, reports: dict[str, ProbeReport], listener: str
) -> None:
    require_program("saslpasswd2")
    assert postfix.sasl_enabled
    port = _port(postfix, reports["checked"], listener)
    # smtpd_tls_auth_only=yes: no AUTH before TLS anywhere; the plain listener has none at all.
    assert port.auth_before_tls == ()
    if listener == "plain":
        assert port.auth_after_tls is None
    else:
        assert port.auth_after_tls is not None
        assert set(port.auth_after_tls) == {"PLAIN", "LOGIN"}  # mech_list in smtpd.conf


def _leaf_fingerprint(postfix: PostfixInstance) -> str:
    """SHA-256 of the certificate Postfix serves, read from its own chain file."""
    pem = (postfix.root / "server.pem").read_text()
    begin = "-----BEGIN CERTIFICATE-----"
    end = "-----END CERTIFICATE-----"
    first = pem[pem.index(begin): pem.index(end) + len(end)]
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest().upper()
    return ":".join(digest[i: i + 2] for i in range(0, len(digest), 2))


@pytest.mark.parametrize("listener", TLS_LISTENERS)
def test_certificate_matches_what_the_client_sees(
    postfix: PostfixInstance, reports: dict[str, ProbeReport], listener: str
) -> None:
    from cdomail import SMTPClient

    port = _port(postfix, reports["checked"], listener)
    assert port.certificate is not None
    assert port.certificate.fingerprint_sha256 == _leaf_fingerprint(postfix)
    assert postfix.hostname in port.certificate.sans
    assert "cdomail interop test CA" in port.certificate.issuer

    marker = new_marker()
    message = (f"From: <sender@example.test>\r\nTo: <rcpt@example.test>\r\n"
               f"Subject: probe cross-check\r\nX-Interop-Marker: {marker}\r\n\r\nHi.\r\n")
    mode = "implicit" if listener == "smtps" else "starttls"
    with SMTPClient(postfix.host, postfix.port(listener), tls=mode,
                    cafile=str(postfix.ca_path), connect_timeout=10.0) as client:
        result = client.send(message.encode())
    assert result.ok and result.tls is not None
    assert result.tls.fingerprint == port.certificate.fingerprint_sha256
    assert port.tls is not None and result.tls.version == port.tls.version
    postfix.wait_for_message(marker.encode())


# listener -> (smtpusessl=True, smtpusessl=False with check_required, without), each as
# (outcome, CDO error name or None)
FAILED_TO_CONNECT = ("error", "CDO_E_FAILED_TO_CONNECT")
CDO_PREDICTIONS = {
    "plain": (FAILED_TO_CONNECT, ("sent-unencrypted", None), ("sent-unencrypted", None)),
    "starttls": (FAILED_TO_CONNECT, ("sent-unencrypted", None), ("unknown", None)),
    "starttls-required": (FAILED_TO_CONNECT, ("error", "CDO_E_SENDER_REJECTED"),
                          ("unknown", None)),
    "smtps": (("sent-encrypted", None), FAILED_TO_CONNECT, FAILED_TO_CONNECT),
}


@pytest.mark.parametrize("listener", LISTENERS)
def test_cdo_predictions(
    postfix: PostfixInstance, reports: dict[str, ProbeReport], listener: str
) -> None:
    usessl_true, usessl_false, usessl_false_unchecked = CDO_PREDICTIONS[listener]
    checked = _port(postfix, reports["checked"], listener)
    unchecked = _port(postfix, reports["unchecked"], listener)
    for prediction, (outcome, error) in (
        (checked.cdo_usessl_true, usessl_true),
        (unchecked.cdo_usessl_true, usessl_true),
        (checked.cdo_usessl_false, usessl_false),
        (unchecked.cdo_usessl_false, usessl_false_unchecked),
    ):
        assert prediction.outcome == outcome, prediction.explanation
        assert (prediction.error.name if prediction.error else None) == error
    if listener == "starttls-required":
        assert checked.cdo_usessl_false.hresult == 0x8004020E
    if listener == "smtps":
        # CDO with smtpusessl=False waits for a plaintext greeting that never comes.
        assert checked.cdo_usessl_false.timing == "after-timeout"
        assert checked.recommendation.cdo_usessl is True
        assert checked.recommendation.cdo_port == postfix.port("smtps")
    else:
        assert checked.cdo_usessl_true.hresult == 0x80040213
        assert checked.cdo_usessl_true.timing == "immediate"
        assert checked.recommendation.cdo_port is None


def _cdo_send(postfix: PostfixInstance, listener: str, usessl: bool) -> tuple[str, str | None]:
    """What ``cdomail.cdo`` really does on this port: (outcome, CDO error name or None)."""
    from cdomail import cdo

    configuration = cdo.Configuration()
    for name, value in {
        cdo.cdoSendUsingMethod: cdo.cdoSendUsingPort,
        cdo.cdoSMTPServer: postfix.host,
        cdo.cdoSMTPServerPort: postfix.port(listener),
        cdo.cdoSMTPConnectionTimeout: 1,  # smtps in plaintext: CDO waits this long
        cdo.cdoSMTPUseSSL: usessl,
        cdo.cdomailCAFile: str(postfix.ca_path),
    }.items():
        configuration.Fields[name] = value
    configuration.Fields.Update()
    message = cdo.Message()
    message.Configuration = configuration
    message.From = "sender@example.test"
    message.To = "rcpt@example.test"
    message.Subject = "probe prediction cross-check"
    marker = new_marker()
    message.TextBody = f"Marker {marker}.\r\n"
    try:
        message.Send()
    except cdo.CdoError as error:
        return "error", error.name
    postfix.wait_for_message(marker.encode())
    encrypted = message.LastSendResult.encrypted
    return ("sent-encrypted" if encrypted else "sent-unencrypted"), None


@pytest.mark.parametrize("usessl", [True, False], ids=["usessl", "no-ssl"])
@pytest.mark.parametrize("listener", LISTENERS)
def test_cdo_predictions_come_true(
    postfix: PostfixInstance, reports: dict[str, ProbeReport], listener: str, usessl: bool
) -> None:
    port = _port(postfix, reports["checked"], listener)
    prediction = port.cdo_usessl_true if usessl else port.cdo_usessl_false
    expected = (prediction.outcome, prediction.error.name if prediction.error else None)
    assert _cdo_send(postfix, listener, usessl) == expected


@pytest.mark.parametrize("listener", ["starttls", "smtps"])
def test_login_inside_tls(
    postfix: PostfixInstance, reports: dict[str, ProbeReport], listener: str
) -> None:
    require_program("saslpasswd2")
    good = _port(postfix, reports["good-login"], listener)
    bad = _port(postfix, reports["bad-login"], listener)
    assert good.login is not None and good.login.status == "ok"
    assert bad.login is not None and bad.login.status == "failed"
    assert "not-the-password" not in reports["bad-login"].to_json(transcript=True)
    assert SASL_PASSWORD not in reports["good-login"].to_json(transcript=True)
    if listener == "smtps":
        assert good.cdo_usessl_true.outcome == "sent-encrypted"
        assert bad.cdo_usessl_true.error is not None
        assert bad.cdo_usessl_true.error.name == "CDO_E_AUTHENTICATION_FAILURE"
    else:
        # smtpusessl=False with credentials: AUTH is not offered before STARTTLS.
        assert good.cdo_usessl_false.error is not None
        assert good.cdo_usessl_false.error.name == "CDO_E_LOGON_FAILURE"
