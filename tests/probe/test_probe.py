"""The probe against real servers on loopback: every lab mode and every way a port can be wrong."""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cdomail.cli import main
from cdomail.errors import ConfigurationError
from cdomail.lab import Lab
from cdomail.probe import CDO_CANNOT, ProbeReport, Verdict, probe, probe_sync
from cdomail.testing.ports import free_port
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER
from cdomail.tls import certificate_fingerprint
from tests._server import ScriptedServer

from ._servers import (
    http_error_at_once,
    http_error_when_spoken_to,
    plain_smtp,
    silent,
    smtps_with,
)

#: Loopback answers in milliseconds; only silent ports ever wait this long.
TIMEOUT = 0.6
FAILED_TO_CONNECT = "0x80040213"
MODES = ("plain", "starttls", "starttls-required", "smtps")


def run_probe(host: str, ports: list[int], **options: object) -> ProbeReport:
    options.setdefault("timeout", TIMEOUT)
    return asyncio.run(probe(host, ports, **options))  # type: ignore[arg-type]


def lab_probe(lab: Lab, **options: object) -> ProbeReport:
    options.setdefault("cafile", str(lab.ca_path))
    return run_probe("localhost", [lab.port(mode) for mode in MODES], **options)


def lab_fingerprint(lab: Lab) -> str:
    cert = x509.load_pem_x509_certificate(lab.cert_path.read_bytes())
    return certificate_fingerprint(cert.public_bytes(Encoding.DER))


def client_verbs(lab: Lab) -> list[str]:
    lab.wait_sessions_closed()
    return [verb for session in lab.sessions for verb, _ in session.commands()]


# -- the lab's four listeners ---------------------------------------------------------------


def test_every_lab_mode_with_check_required(lab: Lab) -> None:
    report = lab_probe(lab, check_required=True)
    plain, starttls, required, smtps = (report.port(lab.port(mode)) for mode in MODES)

    assert plain.verdict is Verdict.PLAINTEXT_ONLY
    assert starttls.verdict is Verdict.STARTTLS_OPTIONAL
    assert required.verdict is Verdict.STARTTLS_REQUIRED
    assert smtps.verdict is Verdict.SMTPS

    assert [p.implicit_tls for p in (plain, starttls, required, smtps)] == [
        False, False, False, True]
    assert [p.starttls_offered for p in (plain, starttls, required, smtps)] == [
        False, True, True, False]
    assert required.mail_before_tls is not None and required.mail_before_tls.code == 530
    assert starttls.mail_before_tls is not None and starttls.mail_before_tls.code == 250

    fingerprint = lab_fingerprint(lab)
    for port, mode in ((starttls, "starttls"), (required, "starttls"), (smtps, "implicit")):
        assert port.tls is not None and port.tls.mode == mode
        assert port.tls.verified is True
        assert port.tls.version.startswith("TLSv1.")
        assert port.certificate is not None
        assert port.certificate.fingerprint_sha256 == fingerprint
        assert {"localhost", "127.0.0.1"} <= set(port.certificate.sans)
        assert port.certificate.not_after > datetime.datetime.now(datetime.UTC).isoformat()
        # The lab offers AUTH only inside TLS (RFC 4954 §4).
        assert port.auth_before_tls == ()
        assert port.auth_after_tls is not None and "PLAIN" in port.auth_after_tls
    assert plain.tls is None and plain.certificate is None and plain.auth_after_tls is None
    assert plain.connect_ms is not None and plain.greeting is not None
    assert plain.greeting.startswith("220 ")
    features = starttls.features()
    assert features["PIPELINING"] is True and features["DSN"] is False
    assert isinstance(features["SIZE"], int) and features["SIZE"] > 0


def test_cdo_predictions_and_recommendations_on_other_ports(lab: Lab) -> None:
    report = lab_probe(lab, check_required=True)
    plain, starttls, required, smtps = (report.port(lab.port(mode)) for mode in MODES)
    # smtpusessl=True on a port that is not 25 means implicit TLS: only smtps works.
    for port in (plain, starttls, required):
        assert port.cdo_usessl_true.to_dict()["hresult"] == FAILED_TO_CONNECT
        assert port.cdo_usessl_true.timing == "immediate"
        assert port.recommendation.cdo.startswith(CDO_CANNOT)
        assert port.recommendation.cdo_port is None
    assert smtps.cdo_usessl_true.outcome == "sent-encrypted"
    assert smtps.recommendation.cdo_port == smtps.port
    assert smtps.recommendation.cdo_usessl is True
    # smtpusessl=False: plain SMTP everywhere.
    assert plain.cdo_usessl_false.outcome == "sent-unencrypted"
    assert starttls.cdo_usessl_false.outcome == "sent-unencrypted"
    assert required.cdo_usessl_false.to_dict()["hresult"] == "0x8004020E"
    assert required.cdo_usessl_false.timing == "immediate"
    assert smtps.cdo_usessl_false.to_dict()["hresult"] == FAILED_TO_CONNECT
    assert smtps.cdo_usessl_false.timing == "after-timeout"
    # Recommendations per library.
    assert smtps.recommendation.cdomail_tls == "implicit"
    assert "SMTP_SSL" in smtps.recommendation.smtplib
    assert "EMAIL_USE_SSL=True" in smtps.recommendation.django
    assert "SslOnConnect" in smtps.recommendation.mailkit
    for port in (starttls, required):
        assert port.recommendation.cdomail_tls == "starttls"
        assert "starttls(" in port.recommendation.smtplib
        assert "EMAIL_USE_TLS=True" in port.recommendation.django
        assert "SecureSocketOptions.StartTls" in port.recommendation.mailkit
    assert plain.recommendation.secure is False
    assert plain.recommendation.cdomail_tls is None
    assert "SecureSocketOptions.None" in plain.recommendation.mailkit
    assert report.summary()["cdo"] == f"smtpserverport={smtps.port}, smtpusessl=True"


def test_default_probe_never_sends_mail_and_leaves_starttls_requirement_open(lab: Lab) -> None:
    report = lab_probe(lab)
    assert report.port(lab.port("starttls")).verdict is Verdict.STARTTLS
    assert report.port(lab.port("starttls-required")).verdict is Verdict.STARTTLS
    unknown = report.port(lab.port("starttls")).cdo_usessl_false
    assert unknown.outcome == "unknown" and "--check-required" in unknown.explanation
    verbs = client_verbs(lab)
    assert "EHLO" in verbs and "STARTTLS" in verbs
    assert not {"MAIL", "RCPT", "DATA", "BDAT", "AUTH"} & set(verbs)
    assert lab.messages == []


def test_check_required_sends_mail_then_rset_but_never_rcpt_or_data(lab: Lab) -> None:
    lab_probe(lab, check_required=True)
    verbs = client_verbs(lab)
    assert verbs.count("MAIL") == 3  # the three listeners that greet in plaintext
    assert verbs.count("RSET") == 3
    assert not {"RCPT", "DATA", "BDAT"} & set(verbs)
    for session in lab.sessions:
        assert ("MAIL", True) not in session.commands()


def test_port_25_is_special_for_cdo(lab: Lab) -> None:
    """Configured port 25, connected to each listener (the port-forwarding experiment)."""
    predictions = {}
    for mode in MODES:
        report = run_probe("localhost", [25], cafile=str(lab.ca_path), check_required=True,
                           connect_to={25: (lab.host, lab.port(mode))})
        [port] = report.ports
        assert port.port == 25 and port.address == f"{lab.host}:{lab.port(mode)}"
        predictions[mode] = port
    assert predictions["starttls"].cdo_usessl_true.outcome == "sent-encrypted"
    assert predictions["starttls-required"].cdo_usessl_true.outcome == "sent-encrypted"
    assert predictions["starttls"].recommendation.cdo == "smtpserverport=25, smtpusessl=True"
    no_starttls = predictions["plain"].cdo_usessl_true
    assert no_starttls.to_dict()["hresult"] == FAILED_TO_CONNECT
    assert no_starttls.timing == "immediate"
    assert "misleading" in no_starttls.explanation
    smtps = predictions["smtps"]
    assert smtps.verdict is Verdict.SMTPS
    assert smtps.cdo_usessl_true.timing == "after-timeout"
    assert smtps.recommendation.cdo.startswith(CDO_CANNOT)
    assert smtps.recommendation.cdomail_tls == "implicit"


def test_login_over_tls_only_and_prediction_with_credentials(lab: Lab) -> None:
    report = lab_probe(lab, check_required=True, login=(LAB_USER, LAB_PASSWORD))
    smtps = report.port(lab.port("smtps"))
    starttls = report.port(lab.port("starttls"))
    assert smtps.login is not None and smtps.login.status == "ok"
    assert starttls.login is not None and starttls.login.status == "ok"
    assert report.port(lab.port("plain")).login is None  # no TLS: no AUTH attempt at all
    # CDO with smtpauthenticate=1 and smtpusessl=False: AUTH is only offered inside TLS.
    assert starttls.cdo_usessl_false.to_dict()["hresult"] == "0x80040217"
    lab.wait_sessions_closed()
    for session in lab.sessions:
        assert "AUTH" not in session.plaintext_commands()
    assert LAB_PASSWORD not in report.to_json(transcript=True)


def test_wrong_password_predicts_authentication_failure(lab: Lab) -> None:
    report = lab_probe(lab, login=(LAB_USER, "not-the-password"))
    smtps = report.port(lab.port("smtps"))
    assert smtps.login is not None and smtps.login.status == "failed"
    assert smtps.cdo_usessl_true.to_dict()["hresult"] == "0x80040215"


def test_unknown_ca_reads_the_certificate_and_suggests_a_pin(lab: Lab) -> None:
    report = run_probe("localhost", [lab.port("smtps"), lab.port("starttls")],
                       login=(LAB_USER, LAB_PASSWORD))
    for port in report.ports:
        assert port.tls is not None and port.tls.verified is False
        assert port.tls.verify_error == "unknown-ca"
        assert port.certificate is not None
        assert port.certificate.fingerprint_sha256 == lab_fingerprint(lab)
        assert port.login is not None and port.login.status == "skipped"
        assert any("--fingerprint" in note for note in port.recommendation.notes)
    smtps = report.port(lab.port("smtps"))
    assert smtps.verdict is Verdict.SMTPS
    assert smtps.cdo_usessl_true.outcome == "error"
    assert smtps.cdo_usessl_true.timing == "immediate"
    assert "certificate" in smtps.recommendation.cdo
    lab.wait_sessions_closed()
    assert not any("AUTH" in verb for s in lab.sessions for verb, _ in s.commands())


def test_insecure_reads_without_judging(lab: Lab) -> None:
    report = run_probe("localhost", [lab.port("smtps")], verify=False)
    [port] = report.ports
    assert port.tls is not None and port.tls.verified is None
    assert port.cdo_usessl_true.outcome == "sent-encrypted"
    assert port.cdo_usessl_true.warning is not None


# -- ports that are not (good) SMTP ---------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_closed_port(host: str) -> None:
    # A long timeout, so "refused at once" is told apart from "waited for the timeout"
    # even on a loaded machine (a refused connect takes milliseconds).
    patience = 20.0
    started = time.monotonic()
    report = run_probe(host, [free_port()], timeout=patience)
    [port] = report.ports
    assert time.monotonic() - started < patience / 4  # refused at once, no waiting
    assert port.verdict is Verdict.CLOSED
    assert port.reachable is False
    for prediction in (port.cdo_usessl_true, port.cdo_usessl_false):
        assert prediction.to_dict()["hresult"] == FAILED_TO_CONNECT
        assert prediction.timing == "immediate"
    assert port.recommendation.secure is False


@pytest.mark.parametrize("handler", [http_error_at_once, http_error_when_spoken_to])
def test_not_smtp(handler: Callable[[], ScriptedServer]) -> None:
    with handler() as server:
        report = run_probe("127.0.0.1", [server.port])
    [port] = report.ports
    assert port.verdict is Verdict.NOT_SMTP
    assert port.reachable is True
    assert port.cdo_usessl_true.to_dict()["hresult"] == FAILED_TO_CONNECT
    assert port.recommendation.cdomail_tls is None


def test_hostile_banner_is_escaped_and_helo_fallback_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with plain_smtp(b"220 \x1b[31mevil\x1b[0m [bold]x[/bold]", ehlo=False) as server:
        report = run_probe("127.0.0.1", [server.port])
        main(["probe", "127.0.0.1", "--ports", str(server.port), "--timeout", str(TIMEOUT),
              "--transcript"])
    [port] = report.ports
    assert port.verdict is Verdict.PLAINTEXT_ONLY  # HELO answered: SMTP, without extensions
    assert port.greeting is not None and "\x1b" not in port.greeting
    assert "\\x1b[31mevil" in port.greeting
    out = capsys.readouterr().out
    assert "\x1b[31m" not in out
    assert "[bold]x[/bold]" in out


def test_server_that_never_answers() -> None:
    with silent() as server:
        report = run_probe("127.0.0.1", [server.port])
    [port] = report.ports
    assert port.verdict is Verdict.TIMEOUT
    assert port.reachable is True
    for prediction in (port.cdo_usessl_true, port.cdo_usessl_false):
        assert prediction.to_dict()["hresult"] == FAILED_TO_CONNECT
        assert prediction.timing == "after-timeout"


def test_four_ports_with_black_holes_take_about_one_timeout(lab: Lab) -> None:
    with silent() as first, silent() as second:
        started = time.monotonic()
        report = run_probe("localhost", [lab.port("plain"), lab.port("smtps"), first.port,
                                         second.port], cafile=str(lab.ca_path), timeout=1.0)
        elapsed = time.monotonic() - started
    # Three ports each cost a whole timeout; one after the other they would take 3 s.
    assert elapsed < 2 * 1.0
    assert [p.verdict for p in report.ports] == [
        Verdict.PLAINTEXT_ONLY, Verdict.SMTPS, Verdict.TIMEOUT, Verdict.TIMEOUT]


# -- bad certificates -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probe-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@contextmanager
def serving(leaf: trustme.LeafCert) -> Iterator[ScriptedServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    with smtps_with(context) as server:
        yield server


def test_expired_certificate(ca: trustme.CA, ca_file: Path) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    leaf = ca.issue_cert("localhost", "127.0.0.1", not_before=past - datetime.timedelta(days=30),
                         not_after=past)
    with serving(leaf) as server:
        report = run_probe("localhost", [server.port], cafile=str(ca_file))
    [port] = report.ports
    assert port.verdict is Verdict.SMTPS
    assert port.tls is not None and port.tls.verified is False
    assert port.tls.verify_error == "expired"
    assert port.certificate is not None
    assert port.certificate.not_after.startswith(past.date().isoformat())
    assert port.auth_after_tls == ("PLAIN", "LOGIN")
    assert port.cdo_usessl_true.to_dict()["hresult"] == FAILED_TO_CONNECT
    assert port.cdo_usessl_true.timing == "immediate"
    assert any("expired" in note for note in port.recommendation.notes)


def test_wrong_name_certificate(ca: trustme.CA, ca_file: Path) -> None:
    leaf = ca.issue_cert("wrong.invalid")
    with serving(leaf) as server:
        report = run_probe("localhost", [server.port], cafile=str(ca_file))
    [port] = report.ports
    assert port.tls is not None and port.tls.verify_error == "name-mismatch"
    assert port.certificate is not None and port.certificate.sans == ("wrong.invalid",)
    assert port.cdo_usessl_true.outcome == "error"
    assert any("not issued for 'localhost'" in n for n in port.recommendation.notes)


# -- the API --------------------------------------------------------------------------------


def test_json_has_the_documented_keys(lab: Lab) -> None:
    document = json.loads(lab_probe(lab).to_json())
    assert document["host"] == "localhost"
    assert len(document["ports"]) == 4
    for port in document["ports"]:
        assert {"port", "verdict", "implicit_tls", "starttls_offered", "tls", "certificate",
                "auth_before_tls", "auth_after_tls", "extensions", "cdo",
                "recommendation"} <= set(port)
        assert set(port["cdo"]) == {"usessl_true", "usessl_false"}
        for prediction in port["cdo"].values():
            assert {"outcome", "hresult", "timing"} <= set(prediction)
    assert "transcript" not in document["ports"][0]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"host": ""}, "host"),
        ({"host": "bad host"}, "host"),
        ({"ports": [0]}, "ports"),
        ({"ports": []}, "ports"),
        ({"timeout": 0}, "timeout"),
        ({"cafile": "/nonexistent/ca.pem"}, "cafile"),
        ({"login": ("user", "pass\r\nMAIL FROM:<x>")}, "login"),
        ({"connect_to": {99: ("127.0.0.1", 25)}}, "connect_to"),
    ],
)
def test_bad_input_is_refused_before_connecting(arguments: dict[str, object], field: str) -> None:
    options: dict[str, object] = {"host": "127.0.0.1", "ports": [25], **arguments}
    with pytest.raises(ConfigurationError) as info:
        probe_sync(**options)  # type: ignore[arg-type]
    assert info.value.field == field
    assert "MAIL FROM" not in str(info.value)


def test_probe_sync_outside_and_inside_a_loop(lab: Lab) -> None:
    report = probe_sync("localhost", [lab.port("plain")], timeout=TIMEOUT)
    assert report.ports[0].verdict is Verdict.PLAINTEXT_ONLY

    async def inside() -> None:
        with pytest.raises(ConfigurationError, match="await probe"):
            probe_sync("localhost", [lab.port("plain")])

    asyncio.run(inside())
