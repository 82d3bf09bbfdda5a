"""The CDO layer (``cdomail.cdo.Message.Send``) against the private Postfix.

CDO's encryption rule is the interesting part: ``smtpusessl`` means implicit TLS on every port
but 25, so a VBScript-style configuration works against an smtps listener and fails, as real
CDO does, against a STARTTLS one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ._delivered import new_marker, parse_delivered, postfix_received
from ._postfix import SASL_AUTHENTICATED_AS, SASL_PASSWORD, SASL_USERNAME
from ._programs import require_program, skip_or_fail

if TYPE_CHECKING:
    from ._postfix import PostfixInstance

pytestmark = pytest.mark.interop


def _cdo() -> Any:
    try:
        from cdomail import cdo
    except ImportError as error:
        skip_or_fail(f"cdomail.cdo is not importable: {error}")
    return cdo


def _message(postfix: PostfixInstance, listener: str, marker: str, **fields: Any) -> Any:
    cdo = _cdo()
    configuration = cdo.Configuration()
    settings = {
        cdo.cdoSendUsingMethod: cdo.cdoSendUsingPort,
        cdo.cdoSMTPServer: postfix.host,
        cdo.cdoSMTPServerPort: postfix.port(listener),
        cdo.cdoSMTPConnectionTimeout: 10,
        cdo.cdomailCAFile: str(postfix.ca_path),
    }
    for name, value in {**settings, **{getattr(cdo, k): v for k, v in fields.items()}}.items():
        configuration.Fields[name] = value
    configuration.Fields.Update()
    message = cdo.Message()
    message.Configuration = configuration
    message.From = '"CDO Sender" <sender@example.test>'
    message.To = "rcpt@example.test"
    message.Subject = "CDO über Postfix"
    message.TextBody = f"Sent the CDO way. Marker {marker}.\r\n"
    message.Fields["urn:schemas:mailheader:x-interop-marker"] = marker
    message.Fields.Update()
    return message


def test_cdo_usessl_with_basic_auth_over_smtps(postfix: PostfixInstance) -> None:
    require_program("saslpasswd2")
    marker = new_marker()
    message = _message(
        postfix,
        "smtps",
        marker,
        cdoSMTPUseSSL=True,
        cdoSMTPAuthenticate=1,  # cdoBasic
        cdoSendUserName=SASL_USERNAME,
        cdoSendPassword=SASL_PASSWORD,
    )
    message.Send()
    delivered = postfix.wait_for_message(marker.encode())
    received = postfix_received(delivered)
    assert received.protocol == "ESMTPSA"
    assert received.authenticated_sender == SASL_AUTHENTICATED_AS
    result = message.LastSendResult
    assert result.tls.mode == "implicit"
    assert result.tls.version == received.tls_version
    arrived = parse_delivered(delivered)
    assert arrived["Subject"] == "CDO über Postfix"
    assert arrived["X-Interop-Marker"] == marker


def test_cdo_without_ssl_sends_in_plaintext(postfix: PostfixInstance) -> None:
    marker = new_marker()
    message = _message(postfix, "starttls", marker, cdoSMTPUseSSL=False)
    message.Send()
    received = postfix_received(postfix.wait_for_message(marker.encode()))
    assert received.protocol == "ESMTP"
    assert not message.LastSendResult.encrypted


def test_cdo_usessl_against_a_starttls_port_fails_like_cdo(postfix: PostfixInstance) -> None:
    cdo = _cdo()
    from cdomail.errors import TLSHandshakeError

    message = _message(postfix, "starttls", new_marker(), cdoSMTPUseSSL=True)
    with pytest.raises(cdo.CdoError) as failure:
        message.Send()
    assert isinstance(failure.value.__cause__, TLSHandshakeError)


def test_cdo_without_ssl_is_refused_by_the_required_listener(postfix: PostfixInstance) -> None:
    cdo = _cdo()
    from cdomail.errors import SenderRefused

    message = _message(postfix, "starttls-required", new_marker(), cdoSMTPUseSSL=False)
    with pytest.raises(cdo.CdoError) as failure:
        message.Send()
    cause = failure.value.__cause__
    assert isinstance(cause, SenderRefused)
    assert cause.code == 530
