"""Fields and Configuration: ADO staging, case-insensitivity, defaults, phantom warnings."""

from __future__ import annotations

import warnings

import pytest

from cdomail.cdo import (
    CdoCompatibilityWarning,
    Configuration,
    Fields,
    cdoBasic,
    cdoSendPassword,
    cdoSendUsingMethod,
    cdoSendUsingPort,
    cdoSMTPAuthenticate,
    cdoSMTPConnectionTimeout,
    cdoSMTPServer,
    cdoSMTPServerPort,
    cdoSMTPUseSSL,
    read_settings,
)
from cdomail.cdo.configuration import client_options
from cdomail.errors import ConfigurationError

NS = "http://schemas.microsoft.com/cdo/configuration/"


def test_constants_have_type_library_values() -> None:
    assert cdoSendUsingPort == 2
    assert cdoBasic == 1
    assert cdoSMTPServer == NS + "smtpserver"
    assert cdoSendUsingMethod == NS + "sendusing"


def test_values_are_staged_until_update() -> None:
    fields = Fields()
    fields["a"] = 1
    assert fields.Item("A").Value == 1  # ADO: Value shows the pending change
    assert fields.Item("a").UnderlyingValue is None
    assert fields.committed("a") is None
    assert fields.has_pending_changes
    fields.Update()
    assert fields.committed("A") == 1
    assert not fields.has_pending_changes


def test_every_assignment_spelling_stages_the_same_field() -> None:
    fields = Fields()
    fields.Item("X").Value = 1
    fields("x").Value = 2
    fields.Item("x", 3)
    assert fields.Count == 1
    assert fields.pending_names() == ["X"]
    fields.Update()
    assert fields.committed("x") == 3
    assert [f.Name for f in fields] == ["X"]


def test_resync_discards_pending_changes() -> None:
    fields = Fields()
    fields["a"] = 1
    fields.Update()
    fields["a"] = 2
    fields.Resync()
    assert fields.Item("a").Value == 1
    assert not fields.has_pending_changes


def test_configuration_defaults_are_cdos() -> None:
    settings = read_settings(Configuration().Fields)
    assert settings.port == 25
    assert settings.timeout == 30
    assert settings.use_ssl is False
    assert settings.authenticate == 0
    assert settings.send_using is None


def test_sendpassword_is_write_only() -> None:
    conf = Configuration()
    conf.Fields[cdoSendPassword] = "secret"
    assert conf.Fields.Item(cdoSendPassword).Value == ""
    conf.Fields.Update()
    assert conf.Fields[cdoSendPassword].Value == ""
    assert "secret" not in repr(conf)
    password = read_settings(conf.Fields).password
    assert password is not None and password.reveal() == "secret"
    assert "secret" not in repr(read_settings(conf.Fields))


def test_names_are_case_insensitive_and_unknown_names_are_stored() -> None:
    conf = Configuration()
    conf.Fields[NS.upper() + "SMTPSERVER"] = "mail.example.com"
    with pytest.warns(CdoCompatibilityWarning, match="smtpserverpor"):
        conf.Fields[NS + "smtpserverpor"] = 587  # typo: stored, warned, ignored
    conf.Fields.Update()
    settings = read_settings(conf.Fields)
    assert settings.server == "mail.example.com"
    assert settings.port == 25
    assert conf.Fields[NS + "smtpserverpor"].Value == 587


@pytest.mark.parametrize("leaf", ["sendtls", "smtpusetls", "StartTLS", "smtpstarttls"])
def test_phantom_fields_warn_in_plain_words(leaf: str) -> None:
    conf = Configuration()
    with pytest.warns(CdoCompatibilityWarning) as record:
        conf.Fields[NS + leaf] = True
    text = str(record[0].message)
    assert "does not exist in CDO" in text
    assert "smtpusessl" in text
    assert "port 25 uses STARTTLS" in text
    conf.Fields.Update()
    assert read_settings(conf.Fields).effective_tls_mode == "none"


def test_https_namespace_typo_warns_and_names_the_fix() -> None:
    conf = Configuration()
    with pytest.warns(CdoCompatibilityWarning, match=r"http://, not https://") as record:
        conf.Fields["https://schemas.microsoft.com/cdo/configuration/sendusing"] = 2
    assert "'http://schemas.microsoft.com/cdo/configuration/sendusing'" in str(record[0].message)
    conf.Fields.Update()
    assert read_settings(conf.Fields).send_using is None


def test_known_fields_do_not_warn() -> None:
    conf = Configuration()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conf.Fields[cdoSMTPUseSSL] = True
        conf.Fields["urn:cdomail:configuration:tlsmode"] = "starttls"


@pytest.mark.parametrize(
    ("use_ssl", "tlsmode", "expected"),
    [(False, None, "none"), (True, None, "cdo"), ("True", None, "cdo"), (-1, None, "cdo"),
     (False, "starttls", "starttls"), (True, "opportunistic", "opportunistic")],
)
def test_client_options_apply_the_rule(use_ssl: object, tlsmode: str | None, expected: str) -> None:
    conf = Configuration()
    conf.Fields[cdoSMTPServer] = "smtp.example.com"
    conf.Fields[cdoSMTPServerPort] = "587"
    conf.Fields[cdoSMTPUseSSL] = use_ssl
    conf.Fields[cdoSMTPConnectionTimeout] = 7
    if tlsmode:
        conf.Fields["urn:cdomail:configuration:tlsmode"] = tlsmode
    conf.Fields.Update()
    options = client_options(read_settings(conf.Fields))
    assert options["tls"] == expected
    assert options["port"] == 587
    assert options["connect_timeout"] == 7.0


def test_connect_override_keeps_the_configured_port() -> None:
    conf = Configuration()
    conf.Fields[cdoSMTPServer] = "localhost"
    conf.Fields["urn:cdomail:configuration:connectto"] = "127.0.0.1:2525"
    conf.Fields.Update()
    options = client_options(read_settings(conf.Fields))
    assert options["port"] == 25
    assert options["connect_to"] == ("127.0.0.1", 2525)


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [(cdoSMTPServerPort, "abc", "smtpserverport"), (cdoSMTPServerPort, 70000, "smtpserverport"),
     (cdoSMTPUseSSL, "maybe", "smtpusessl"), (cdoSMTPAuthenticate, "basic", "smtpauthenticate"),
     ("urn:cdomail:configuration:tlsmode", "tls", "tlsmode"),
     ("urn:cdomail:configuration:connectto", "nowhere", "connectto")],
)
def test_bad_values_name_the_field(name: str, value: object, field: str) -> None:
    conf = Configuration()
    conf.Fields[name] = value
    conf.Fields.Update()
    with pytest.raises(ConfigurationError) as info:
        read_settings(conf.Fields)
    assert info.value.field == field


def test_warning_points_at_the_callers_line() -> None:
    conf = Configuration()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        conf.Fields[NS + "sendtls"] = True
        conf.Fields.Item(NS + "smtpusetls").Value = True
    assert [w.category for w in record] == [CdoCompatibilityWarning] * 2
    assert [w.filename for w in record] == [__file__, __file__]
