"""A faithful CDO (CDOSYS) for Python: ``Message``, ``Configuration``, ``Fields``, ``CdoError``.

VBA / VBScript code that sends mail through ``CDO.Message`` ports line for line and behaves as
CDO does -- including its encryption rule (``smtpusessl`` + the *configured* port, see
:mod:`cdomail._cdo_rules`)::

    from cdomail.cdo import Message, Configuration, cdoSendUsingPort, cdoSMTPServer
    conf = Configuration()
    conf.Fields[cdoSendUsingMethod] = cdoSendUsingPort
    conf.Fields.Item(cdoSMTPServer).Value = "smtp.example.com"
    conf.Fields.Update()
    msg = Message(); msg.Configuration = conf
    msg.From = '"Me" <me@example.com>'; msg.To = "a@example.org"
    msg.Send()   # raises CdoError(.hresult == 0x80040213, ...) as CDO would
"""

from __future__ import annotations

from cdomail.cdo import constants as _constants
from cdomail.cdo.bodypart import Attachment, Attachments, BodyPart
from cdomail.cdo.configuration import Configuration, TransportSettings, read_settings
from cdomail.cdo.constants import *  # noqa: F403 - the type library constants, by design
from cdomail.cdo.constants import (
    CdoCharset,
    CdoConfigSource,
    CdoDSNOptions,
    CdoEncodingType,
    CdoMHTMLFlags,
    CdoPostUsing,
    CdoProtocolsAuthentication,
    CdoReferenceType,
    CdoSendUsing,
    lookup_constant,
)
from cdomail.cdo.errors import CdoCompatibilityWarning, CdoError, signed_hresult
from cdomail.cdo.fields import Field, Fields
from cdomail.cdo.message import Message
from cdomail.cdo.stream import MessageStream

__all__ = [
    "Attachment",
    "Attachments",
    "BodyPart",
    "CdoCharset",
    "CdoCompatibilityWarning",
    "CdoConfigSource",
    "CdoDSNOptions",
    "CdoEncodingType",
    "CdoError",
    "CdoMHTMLFlags",
    "CdoPostUsing",
    "CdoProtocolsAuthentication",
    "CdoReferenceType",
    "CdoSendUsing",
    "Configuration",
    "Field",
    "Fields",
    "Message",
    "MessageStream",
    "TransportSettings",
    "lookup_constant",
    "read_settings",
    "signed_hresult",
]
# The type library constants are public too (ported code star-imports them).
__all__ += sorted(
    name for name in vars(_constants) if name.startswith(("cdo", "CDO", "KNOWN_", "PHANTOM_"))
)


def __getattr__(name: str) -> object:
    # PEP 562: type-library constants in any letter case (``cdo.CdoSendUsingPort``), as in VBA.
    if name.startswith("_"):
        raise AttributeError(name)
    return _constants.lookup_constant(name)
