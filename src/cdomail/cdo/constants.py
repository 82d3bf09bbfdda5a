"""The CDOSYS type library constants, with the same names and values as cdosys.dll.

Ported code keeps its constant names (``cdoSendUsingPort``, ``cdoSMTPServer``...), so a
VBScript line such as ``.Item(cdoSMTPServer) = "smtp.example.com"`` ports unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, Final

# --- CdoSendUsing -------------------------------------------------------------
cdoSendUsingPickup: Final = 1
cdoSendUsingPort: Final = 2

# --- CdoPostUsing (NNTP; ported scripts copy these next to CdoSendUsing) -----------
cdoPostUsingPickup: Final = 1
cdoPostUsingPort: Final = 2

# --- CdoConfigSource (Configuration.Load) --------------------------------------------
cdoDefaults: Final = -1
cdoIIS: Final = 1
cdoOutlookExpress: Final = 2

# --- CdoMHTMLFlags (CreateMHTMLBody, bit flags) ---------------------------------------
cdoSuppressNone: Final = 0
cdoSuppressImages: Final = 1
cdoSuppressBGSounds: Final = 2
cdoSuppressFrames: Final = 4
cdoSuppressObjects: Final = 8
cdoSuppressStyleSheets: Final = 16
cdoSuppressAll: Final = 31

# --- CdoEncodingType (ContentTransferEncoding values) ----------------------------------
cdo7bit: Final = "7bit"
cdo8bit: Final = "8bit"
cdoBase64: Final = "base64"
cdoBinary: Final = "binary"
cdoMacBinHex40: Final = "mac-binhex40"
cdoQuotedPrintable: Final = "quoted-printable"
cdoUuencode: Final = "uuencode"

# --- CdoCharset (BodyPart.Charset values) ---------------------------------------------
cdoBIG5: Final = "big5"
cdoEUC_JP: Final = "euc-jp"
cdoEUC_KR: Final = "euc-kr"
cdoGB2312: Final = "gb2312"
cdoISO_2022_JP: Final = "iso-2022-jp"
cdoISO_2022_KR: Final = "iso-2022-kr"
cdoISO_8859_1: Final = "iso-8859-1"
cdoISO_8859_2: Final = "iso-8859-2"
cdoISO_8859_3: Final = "iso-8859-3"
cdoISO_8859_4: Final = "iso-8859-4"
cdoISO_8859_5: Final = "iso-8859-5"
cdoISO_8859_6: Final = "iso-8859-6"
cdoISO_8859_7: Final = "iso-8859-7"
cdoISO_8859_8: Final = "iso-8859-8"
cdoISO_8859_9: Final = "iso-8859-9"
cdoKOI8_R: Final = "koi8-r"
cdoShift_JIS: Final = "shift-jis"
cdoUS_ASCII: Final = "us-ascii"
cdoUTF_7: Final = "utf-7"
cdoUTF_8: Final = "utf-8"

# --- CdoProtocolsAuthentication -------------------------------------------------
cdoAnonymous: Final = 0
cdoBasic: Final = 1
cdoNTLM: Final = 2

# --- CdoDSNOptions (bit flags) -------------------------------------------------
cdoDSNDefault: Final = 0
cdoDSNNever: Final = 1
cdoDSNFailure: Final = 2
cdoDSNSuccess: Final = 4
cdoDSNDelay: Final = 8
cdoDSNSuccessFailOrDelay: Final = 14

# --- CdoReferenceType (AddRelatedBodyPart) ---------------------------------------
cdoRefTypeId: Final = 0
cdoRefTypeLocation: Final = 1

# --- CdoImportanceValues / priority --------------------------------------------
cdoLow: Final = 0
cdoNormal: Final = 1
cdoHigh: Final = 2
cdoPriorityNonUrgent: Final = -1
cdoPriorityNormal: Final = 0
cdoPriorityUrgent: Final = 1

# --- Configuration field names (namespace http://schemas.microsoft.com/cdo/configuration/) ---
CDO_CONFIGURATION_NAMESPACE: Final = "http://schemas.microsoft.com/cdo/configuration/"
_NS: Final = CDO_CONFIGURATION_NAMESPACE

cdoSendUsingMethod: Final = _NS + "sendusing"
cdoSMTPServer: Final = _NS + "smtpserver"
cdoSMTPServerPort: Final = _NS + "smtpserverport"
cdoSMTPUseSSL: Final = _NS + "smtpusessl"
cdoSMTPAuthenticate: Final = _NS + "smtpauthenticate"
cdoSendUserName: Final = _NS + "sendusername"
cdoSendPassword: Final = _NS + "sendpassword"
cdoSMTPConnectionTimeout: Final = _NS + "smtpconnectiontimeout"
cdoSMTPServerPickupDirectory: Final = _NS + "smtpserverpickupdirectory"
cdoFlushBuffersOnWrite: Final = _NS + "flushbuffersonwrite"
cdoSendEmailAddress: Final = _NS + "sendemailaddress"
cdoSendUserReplyEmailAddress: Final = _NS + "senduserreplyemailaddress"
cdoSMTPAccountName: Final = _NS + "smtpaccountname"
cdoLanguageCode: Final = _NS + "languagecode"
cdoUseMessageResponseText: Final = _NS + "usemessageresponsetext"
cdoAutoPromoteBodyParts: Final = _NS + "autopromotebodyparts"
cdoURLGetLatestVersion: Final = _NS + "urlgetlatestversion"
cdoURLProxyServer: Final = _NS + "urlproxyserver"
cdoURLProxyBypass: Final = _NS + "urlproxybypass"
cdoHTTPCookies: Final = _NS + "httpcookies"
cdoPostUsingMethod: Final = _NS + "postusing"
cdoNNTPServer: Final = _NS + "nntpserver"
cdoNNTPServerPort: Final = _NS + "nntpserverport"
cdoNNTPServerPickupDirectory: Final = _NS + "nntpserverpickupdirectory"
cdoNNTPAuthenticate: Final = _NS + "nntpauthenticate"
cdoNNTPUseSSL: Final = _NS + "nntpusessl"
cdoNNTPConnectionTimeout: Final = _NS + "nntpconnectiontimeout"
cdoNNTPAccountName: Final = _NS + "nntpaccountname"
cdoPostUserName: Final = _NS + "postusername"
cdoPostPassword: Final = _NS + "postpassword"
cdoPostEmailAddress: Final = _NS + "postemailaddress"
cdoPostUserReplyEmailAddress: Final = _NS + "postuserreplyemailaddress"
cdoSaveSentItems: Final = _NS + "savesentitems"
cdoMailboxURL: Final = _NS + "mailboxurl"
cdoActiveConnection: Final = _NS + "activeconnection"
cdoUsePickupDirectory: Final = _NS + "usepickupdirectory"

#: Every field name cdosys.dll knows in the configuration namespace (lower case leaf names).
KNOWN_CONFIGURATION_FIELDS: Final = frozenset(
    name[len(_NS) :]
    for name in (
        cdoSendUsingMethod, cdoSMTPServer, cdoSMTPServerPort, cdoSMTPUseSSL,
        cdoSMTPAuthenticate, cdoSendUserName, cdoSendPassword, cdoSMTPConnectionTimeout,
        cdoSMTPServerPickupDirectory, cdoFlushBuffersOnWrite, cdoSendEmailAddress,
        cdoSendUserReplyEmailAddress, cdoSMTPAccountName, cdoLanguageCode,
        cdoUseMessageResponseText, cdoAutoPromoteBodyParts, cdoURLGetLatestVersion,
        cdoURLProxyServer, cdoURLProxyBypass, cdoHTTPCookies, cdoPostUsingMethod,
        cdoNNTPServer, cdoNNTPServerPort, cdoNNTPServerPickupDirectory, cdoNNTPAuthenticate,
        cdoNNTPUseSSL, cdoNNTPConnectionTimeout, cdoNNTPAccountName, cdoPostUserName,
        cdoPostPassword, cdoPostEmailAddress, cdoPostUserReplyEmailAddress,
        cdoSaveSentItems, cdoMailboxURL, cdoActiveConnection, cdoUsePickupDirectory,
    )
)

#: Names that web posts recommend but cdosys.dll has never contained (its type library lists
#: no such field).
PHANTOM_CONFIGURATION_FIELDS: Final = frozenset(
    {"sendtls", "smtpusetls", "starttls", "smtpstarttls"}
)

# --- cdomail's own namespace: extensions that never change a plain CDO configuration ---------
CDOMAIL_CONFIGURATION_NAMESPACE: Final = "urn:cdomail:configuration:"
cdomailTLSMode: Final = CDOMAIL_CONFIGURATION_NAMESPACE + "tlsmode"
cdomailCAFile: Final = CDOMAIL_CONFIGURATION_NAMESPACE + "cafile"
cdomailFingerprint: Final = CDOMAIL_CONFIGURATION_NAMESPACE + "fingerprint"
cdomailVerify: Final = CDOMAIL_CONFIGURATION_NAMESPACE + "verify"
cdomailConnectTo: Final = CDOMAIL_CONFIGURATION_NAMESPACE + "connectto"
KNOWN_CDOMAIL_FIELDS: Final = frozenset({"tlsmode", "cafile", "fingerprint", "verify", "connectto"})

# --- Message field namespaces ---------------------------------------------------------
MAILHEADER_NAMESPACE: Final = "urn:schemas:mailheader:"
HTTPMAIL_NAMESPACE: Final = "urn:schemas:httpmail:"
cdoImportance: Final = HTTPMAIL_NAMESPACE + "importance"
cdoPriority: Final = HTTPMAIL_NAMESPACE + "priority"
cdoSubject: Final = HTTPMAIL_NAMESPACE + "subject"
cdoFrom: Final = HTTPMAIL_NAMESPACE + "from"
cdoTo: Final = HTTPMAIL_NAMESPACE + "to"
cdoCC: Final = HTTPMAIL_NAMESPACE + "cc"
cdoBCC: Final = HTTPMAIL_NAMESPACE + "bcc"
cdoReplyTo: Final = HTTPMAIL_NAMESPACE + "reply-to"
cdoSender: Final = HTTPMAIL_NAMESPACE + "sender"
cdoTextDescription: Final = HTTPMAIL_NAMESPACE + "textdescription"
cdoHTMLDescription: Final = HTTPMAIL_NAMESPACE + "htmldescription"
cdoDispositionNotificationTo: Final = MAILHEADER_NAMESPACE + "disposition-notification-to"
cdoXMailer: Final = MAILHEADER_NAMESPACE + "x-mailer"
cdoKeywords: Final = MAILHEADER_NAMESPACE + "keywords"
cdoOrganization: Final = MAILHEADER_NAMESPACE + "organization"
cdoContentLanguage: Final = MAILHEADER_NAMESPACE + "content-language"


class _Enumeration(type):
    """The metaclass of the type library's enumerations: members found in any letter case."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        members: dict[str, str] = {key.lower(): key for key, _ in cls}
        try:
            return vars(cls)[members[name.lower()]]
        except KeyError:
            close = difflib.get_close_matches(name.lower(), list(members), n=1)
            hint = f"; did you mean {members[close[0]]!r}?" if close else ""
            raise AttributeError(f"{cls.__name__} has no member {name!r}{hint}") from None

    def __iter__(cls) -> Iterator[tuple[str, Any]]:
        return ((k, v) for k, v in vars(cls).items() if not k.startswith("_"))


class CdoSendUsing(metaclass=_Enumeration):
    """``CdoSendUsing.cdoSendUsingPort`` as VBA with a type library reference writes it."""

    cdoSendUsingPickup = cdoSendUsingPickup
    cdoSendUsingPort = cdoSendUsingPort


class CdoPostUsing(metaclass=_Enumeration):
    """The NNTP twin of :class:`CdoSendUsing`."""

    cdoPostUsingPickup = cdoPostUsingPickup
    cdoPostUsingPort = cdoPostUsingPort


class CdoProtocolsAuthentication(metaclass=_Enumeration):
    """smtpauthenticate values."""

    cdoAnonymous = cdoAnonymous
    cdoBasic = cdoBasic
    cdoNTLM = cdoNTLM


class CdoConfigSource(metaclass=_Enumeration):
    """Configuration.Load sources."""

    cdoDefaults = cdoDefaults
    cdoIIS = cdoIIS
    cdoOutlookExpress = cdoOutlookExpress


class CdoDSNOptions(metaclass=_Enumeration):
    """Message.DSNOptions bit flags."""

    cdoDSNDefault = cdoDSNDefault
    cdoDSNNever = cdoDSNNever
    cdoDSNFailure = cdoDSNFailure
    cdoDSNSuccess = cdoDSNSuccess
    cdoDSNDelay = cdoDSNDelay
    cdoDSNSuccessFailOrDelay = cdoDSNSuccessFailOrDelay


class CdoReferenceType(metaclass=_Enumeration):
    """AddRelatedBodyPart reference types."""

    cdoRefTypeId = cdoRefTypeId
    cdoRefTypeLocation = cdoRefTypeLocation


class CdoMHTMLFlags(metaclass=_Enumeration):
    """CreateMHTMLBody flags."""

    cdoSuppressNone = cdoSuppressNone
    cdoSuppressImages = cdoSuppressImages
    cdoSuppressBGSounds = cdoSuppressBGSounds
    cdoSuppressFrames = cdoSuppressFrames
    cdoSuppressObjects = cdoSuppressObjects
    cdoSuppressStyleSheets = cdoSuppressStyleSheets
    cdoSuppressAll = cdoSuppressAll


class CdoEncodingType(metaclass=_Enumeration):
    """Content-Transfer-Encoding values."""

    cdo7bit = cdo7bit
    cdo8bit = cdo8bit
    cdoBase64 = cdoBase64
    cdoBinary = cdoBinary
    cdoMacBinHex40 = cdoMacBinHex40
    cdoQuotedPrintable = cdoQuotedPrintable
    cdoUuencode = cdoUuencode


class CdoCharset(metaclass=_Enumeration):
    """Character set names for BodyPart.Charset."""

    cdoBIG5 = cdoBIG5
    cdoEUC_JP = cdoEUC_JP
    cdoEUC_KR = cdoEUC_KR
    cdoGB2312 = cdoGB2312
    cdoISO_2022_JP = cdoISO_2022_JP
    cdoISO_2022_KR = cdoISO_2022_KR
    cdoISO_8859_1 = cdoISO_8859_1
    cdoISO_8859_2 = cdoISO_8859_2
    cdoISO_8859_3 = cdoISO_8859_3
    cdoISO_8859_4 = cdoISO_8859_4
    cdoISO_8859_5 = cdoISO_8859_5
    cdoISO_8859_6 = cdoISO_8859_6
    cdoISO_8859_7 = cdoISO_8859_7
    cdoISO_8859_8 = cdoISO_8859_8
    cdoISO_8859_9 = cdoISO_8859_9
    cdoKOI8_R = cdoKOI8_R
    cdoShift_JIS = cdoShift_JIS
    cdoUS_ASCII = cdoUS_ASCII
    cdoUTF_7 = cdoUTF_7
    cdoUTF_8 = cdoUTF_8


def _constant_names() -> dict[str, str]:
    return {
        name.lower(): name
        for name in globals()
        if name.startswith(("cdo", "Cdo", "CDO_"))
    }


def lookup_constant(name: str) -> Any:
    """The value of type-library constant *name*, in any letter case (VBA ignores case).

    Raises:
        AttributeError: no such constant; the message names the nearest real one.
    """
    names = _constant_names()
    real = names.get(name.lower())
    if real is None:
        close = difflib.get_close_matches(name.lower(), list(names), n=1)
        hint = f"; did you mean {names[close[0]]!r}?" if close else ""
        raise AttributeError(f"the CDO type library has no constant {name!r}{hint}")
    return globals()[real]


def __getattr__(name: str) -> Any:
    # PEP 562: ``constants.CDOSENDUSINGPORT`` and ``from ... import cdosendusingport`` resolve
    # as VBA would; anything else is a plain AttributeError (Python's own protocol names).
    if name.startswith("_"):
        raise AttributeError(name)
    return lookup_constant(name)
