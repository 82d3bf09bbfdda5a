"""Authentication as CDO does it: cdoBasic (AUTH LOGIN), plaintext AUTH, cdoNTLM (real NTLM)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from cdomail.cdo import (
    CdoCompatibilityWarning,
    CdoError,
    cdoBasic,
    cdoNTLM,
    cdoSendPassword,
    cdoSendUserName,
    cdoSMTPAuthenticate,
)
from cdomail.cdo._secret import Secret
from cdomail.cdo.configuration import TransportSettings
from cdomail.cdo.ntlm import NTLMAuthenticator, lab_ntlm_mechanism, write_ntlm_user_file
from cdomail.cdo.transport import auth_options
from cdomail.errors import AuthenticationFailed, AuthenticationRefusedLocally
from cdomail.lab import Lab
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER

from ._helpers import lab_message


def auth_fields(method: int, user: str, password: str) -> dict[str, object]:
    return {cdoSMTPAuthenticate: method, cdoSendUserName: user, cdoSendPassword: password}


def auth_lines(lab: Lab) -> list[bytes]:
    lab.wait_sessions_closed()
    return [e.line for s in lab.sessions for e in s.lines("C")
            if e.kind == "command" and e.line.upper().startswith(b"AUTH")]


def test_basic_uses_auth_login_inside_tls(lab: Lab) -> None:
    msg = lab_message(lab, "smtps", port=465, use_ssl=True,
                      fields=auth_fields(cdoBasic, LAB_USER, LAB_PASSWORD))
    msg.Send()
    assert lab.messages[0].authenticated_as == LAB_USER
    assert [line.split()[:2] for line in auth_lines(lab)] == [[b"AUTH", b"LOGIN"]]
    assert lab.sessions[0].commands()[1] == ("AUTH", True)


@pytest.mark.lab(auth_require_tls=False)
def test_basic_without_ssl_sends_credentials_in_plaintext_and_warns(lab: Lab) -> None:
    msg = lab_message(lab, "plain", port=25, use_ssl=False,
                      fields=auth_fields(cdoBasic, LAB_USER, LAB_PASSWORD))
    with pytest.warns(CdoCompatibilityWarning, match="unencrypted"):
        msg.Send()
    assert lab.messages[0].authenticated_as == LAB_USER
    assert ("AUTH", False) in lab.sessions[0].commands()


def test_wrong_password_is_authentication_failure(lab: Lab) -> None:
    msg = lab_message(lab, "smtps", port=465, use_ssl=True,
                      fields=auth_fields(cdoBasic, LAB_USER, "wrong"))
    with pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == 0x80040215
    assert info.value.server_response.startswith("535")
    assert "535" in info.value.description
    assert isinstance(info.value.__cause__, AuthenticationFailed)
    assert "wrong" not in str(info.value)


def test_no_auth_offered_is_logon_failure(lab: Lab) -> None:
    # The lab offers AUTH only after TLS; CDO without smtpusessl never gets there.
    msg = lab_message(lab, "plain", port=25, use_ssl=False,
                      fields=auth_fields(cdoBasic, LAB_USER, LAB_PASSWORD))
    with pytest.warns(CdoCompatibilityWarning), pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == 0x80040217
    assert info.value.name == "CDO_E_LOGON_FAILURE"
    assert isinstance(info.value.__cause__, AuthenticationRefusedLocally)
    assert lab.messages == []


def test_authenticate_without_user_name_is_logon_failure(lab: Lab) -> None:
    msg = lab_message(lab, "smtps", port=465, use_ssl=True, fields={cdoSMTPAuthenticate: cdoBasic})
    with pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == 0x80040217
    assert lab.sessions == []  # refused before connecting


@pytest.fixture
def ntlm_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_ntlm_user_file(tmp_path / "ntlm-users", {"CORP\\alice": "Ntlm-Pa55"})
    monkeypatch.setenv("NTLM_USER_FILE", path)


@pytest.mark.lab(auth_mechanisms={"NTLM": lab_ntlm_mechanism})
@pytest.mark.usefixtures("ntlm_users")
def test_ntlm_really_authenticates(lab: Lab) -> None:
    msg = lab_message(lab, "smtps", port=465, use_ssl=True,
                      fields=auth_fields(cdoNTLM, "CORP\\alice", "Ntlm-Pa55"))
    msg.Send()
    [stored] = lab.messages
    assert stored.authenticated_as is not None
    assert "alice" in stored.authenticated_as.lower()
    assert [line.split()[:2] for line in auth_lines(lab)] == [[b"AUTH", b"NTLM"]]


@pytest.mark.lab(auth_mechanisms={"NTLM": lab_ntlm_mechanism})
@pytest.mark.usefixtures("ntlm_users")
def test_ntlm_with_a_wrong_password_is_refused(lab: Lab) -> None:
    msg = lab_message(lab, "smtps", port=465, use_ssl=True,
                      fields=auth_fields(cdoNTLM, "CORP\\alice", "not-it"))
    with pytest.raises(CdoError) as info:
        msg.Send()
    assert info.value.hresult == 0x80040215
    assert lab.messages == []


def test_ntlm_authenticator_never_shows_the_password() -> None:
    authenticator = NTLMAuthenticator("CORP\\alice", "Ntlm-Pa55")
    assert "Ntlm-Pa55" not in repr(authenticator)
    negotiate = authenticator.initial_response()
    assert negotiate is not None
    assert negotiate.startswith(b"NTLMSSP\x00\x01\x00\x00\x00")


def _basic_settings(*, use_ssl: bool, port: int, tls_mode: str | None) -> TransportSettings:
    return TransportSettings(
        send_using=2, server="mail.example", port=port, use_ssl=use_ssl,
        authenticate=cdoBasic, username="user", password=Secret("pw"), timeout=30.0,
        pickup_directory=None, flush_buffers_on_write=False, send_email_address=None,
        reply_email_address=None, tls_mode=tls_mode,
    )


@pytest.mark.parametrize(("use_ssl", "port", "tls_mode", "plaintext"), [
    (False, 25, None, True),        # CDO without smtpusessl: plaintext
    (False, 587, "none", True),     # our tlsmode override says plaintext
    (True, 25, None, False),        # CDO's rule: STARTTLS on 25
    (True, 465, None, False),       # CDO's rule: implicit TLS on 465
    (False, 25, "starttls", False),  # the override asks for TLS although smtpusessl is off
    (False, 25, "opportunistic", False),
])
def test_plaintext_auth_allowed_only_when_the_session_tls_policy_is_none(
    use_ssl: bool, port: int, tls_mode: str | None, plaintext: bool,
) -> None:
    settings = _basic_settings(use_ssl=use_ssl, port=port, tls_mode=tls_mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        options = auth_options(settings)
    assert options.get("allow_plaintext_auth", False) is plaintext
    warned = [w for w in caught if issubclass(w.category, CdoCompatibilityWarning)]
    assert bool(warned) is plaintext
