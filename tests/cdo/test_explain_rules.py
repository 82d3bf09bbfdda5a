"""One CDO port rule and one reading of CDO field values, shared by Message.Send and explain.

The agreement tests run ``Message.Send``'s reading (``read_settings`` on committed
``Configuration.Fields``) and ``cdomail explain``'s reading of a VBScript snippet setting the
same value, over the same table of inputs, and require the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdomail import _cdo_rules as rules
from cdomail.cdo import Configuration, read_settings
from cdomail.cdo import constants as c
from cdomail.cdo.explain import explain_text
from cdomail.errors import ConfigurationError
from cdomail.session import ClientConfig
from cdomail.tls import TLSMode

SRC = Path(__file__).parents[2] / "src" / "cdomail"

USESSL_VALUES: list[Any] = [True, False, -1, 0, 1, 2, 1.0, 0.0, "true", "TRUE", " True ",
                            "false", "False", "-1", "0", "1", "2", "on", "off", "yes", "no",
                            "", "abc"]
PORT_VALUES: list[Any] = [25, 465, 2526, "25", " 465 ", "465.0", "2526", 2526.0, 24.5, "abc",
                          "0", 70000, "", True, "25 port"]
SEND_USING_VALUES: list[Any] = [1, 2, "1", "2", " 2 ", 2.0, 3, 0, "x", "", True]


def _vb_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return repr(value)


def _fields(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sendusing": 2, "smtpserver": "smtp.example.com",
                            "smtpserverpickupdirectory": "C:\\pickup"}
    base.update(values)
    return base


def send_reading(fields: dict[str, Any]) -> str:
    """What Message.Send makes of these committed values."""
    conf = Configuration()
    for name, value in fields.items():
        conf.Fields[c.CDO_CONFIGURATION_NAMESPACE + name] = value
    conf.Fields.Update()
    try:
        settings = read_settings(conf.Fields)
    except ConfigurationError:
        return "refused"
    if settings.send_using not in (1, 2):
        return "0x80040220"
    if settings.send_using == 1:
        return "pickup"
    return rules.cdo_encryption(settings.use_ssl, settings.port)


def explain_reading(fields: dict[str, Any]) -> str:
    """What explain makes of a VBScript snippet committing the same values."""
    lines = ['Set m = CreateObject("CDO.Message")', "With m.Configuration.Fields"]
    lines += [f'  .Item("{c.CDO_CONFIGURATION_NAMESPACE}{name}") = {_vb_literal(value)}'
              for name, value in fields.items()]
    lines += ["  .Update", "End With", 'm.From = "a@example.com" : m.To = "b@example.org"',
              "m.Send"]
    report = explain_text("\n".join(lines))
    if report.verdict == "fails":
        return report.hresult or "refused"
    if report.verdict in ("pickup",):
        return "pickup"
    return {"STARTTLS": "starttls", "implicit TLS": "implicit", "none": "none"}[
        report.encryption]


@pytest.mark.parametrize("value", USESSL_VALUES, ids=repr)
def test_smtpusessl_is_read_the_same_by_send_and_explain(value: Any) -> None:
    fields = _fields(smtpserverport=25, smtpusessl=value)
    assert explain_reading(fields) == send_reading(fields)


@pytest.mark.parametrize("value", PORT_VALUES, ids=repr)
def test_port_is_read_the_same_by_send_and_explain(value: Any) -> None:
    fields = _fields(smtpserverport=value, smtpusessl=True)
    assert explain_reading(fields) == send_reading(fields)


@pytest.mark.parametrize("value", SEND_USING_VALUES, ids=repr)
def test_sendusing_is_read_the_same_by_send_and_explain(value: Any) -> None:
    fields = _fields(sendusing=value, smtpserverport=465, smtpusessl=True)
    assert explain_reading(fields) == send_reading(fields)


@pytest.mark.parametrize(("value", "expected"), [
    ("on", "refused"), ("2", "starttls"), (-1, "starttls"), ("true", "starttls"),
    (True, "starttls"), ("0", "none"), ("", "none"),
])
def test_the_readings_are_cdos(value: Any, expected: str) -> None:
    # The values issue 11 names, with the answer COM's VARIANT conversion gives.
    assert send_reading(_fields(smtpserverport=25, smtpusessl=value)) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (0, False), (-1, True), (2, True), (0.5, True), ("TRUE", True),
    (" false ", False), ("-1", True), ("2", True), ("0.0", False),
])
def test_coerce_bool(value: Any, expected: bool) -> None:
    assert rules.coerce_bool("smtpusessl", value) is expected


@pytest.mark.parametrize("value", ["on", "yes", "off", "no", "nan", "inf", [1], None])
def test_coerce_bool_refuses_what_com_cannot_read(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="smtpusessl"):
        rules.coerce_bool("smtpusessl", value)


@pytest.mark.parametrize(("value", "expected"), [
    (25, 25), ("465", 465), (" 25 ", 25), ("25.0", 25), (24.5, 24), (25.5, 26), (True, -1),
])
def test_coerce_int_as_com_rounds(value: Any, expected: int) -> None:
    assert rules.coerce_int("smtpserverport", value) == expected


def test_read_helpers_defaults_and_ranges() -> None:
    assert rules.read_port(None) == rules.CDO_DEFAULT_PORT == 25
    assert rules.read_port("  ") == 25
    assert rules.read_use_ssl(None) is False
    assert rules.read_send_using("") is None
    assert rules.read_authenticate(None) == 0
    assert rules.read_timeout(0) == rules.read_timeout(-5) == rules.read_timeout(None) == 30
    with pytest.raises(ConfigurationError, match="not a TCP port"):
        rules.read_port(70000)


def test_the_port_rule() -> None:
    assert rules.cdo_encryption(False, 465) == "none"
    assert rules.cdo_encryption(True, 25) == "starttls"
    assert rules.cdo_encryption(True, 587) == "implicit"
    assert TLSMode.CDO.resolve(25) is TLSMode.STARTTLS
    assert TLSMode.CDO.resolve(465) is TLSMode.IMPLICIT
    assert TLSMode.CDO.resolve(2525) is TLSMode.IMPLICIT


def test_tls_cdo_without_a_port_is_cdos_default_port_25_with_starttls() -> None:
    config = ClientConfig.build("mail.example.com", tls="cdo", local_hostname="client.test")
    assert config.port == 25
    assert config.effective_mode is TLSMode.STARTTLS


def test_transport_settings_use_the_shared_rule() -> None:
    conf = Configuration()
    conf.Fields[c.cdoSMTPUseSSL] = "2"
    conf.Fields[c.cdoSMTPServerPort] = "25"
    conf.Fields.Update()
    settings = read_settings(conf.Fields)
    assert settings.cdo_encryption == "starttls"
    assert not hasattr(settings, "cdo_tls_behaviour")


@pytest.mark.parametrize("path", ["tls.py", "cdo/configuration.py", "probe/_cdo_rule.py",
                                  "probe/_advice.py", "session/_config.py",
                                  "session/_connect.py", "cdo/transport.py"])
def test_no_other_copy_of_the_port_rule(path: str) -> None:
    # The rule is "configured port 25 means STARTTLS"; only _cdo_rules may spell it out.
    source = (SRC / path).read_text()
    for copy in ("port == 25", "port != 25", "== SMTP_PORT", "port == CDO_STARTTLS_PORT",
                 "== 25 else"):
        assert copy not in source, f"{path} has its own copy of CDO's port rule: {copy!r}"
