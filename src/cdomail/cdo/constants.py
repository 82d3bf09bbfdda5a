"""The CDOSYS type library constants, with the same names and values as cdosys.dll.

Ported code keeps its constant names (``cdoSendUsingPort``, ``cdoSMTPServer``...), so a
VBScript line such as ``.Item(cdoSMTPServer) = "smtp.example.com"`` ports unchanged.
"""

from __future__ import annotations

from typing import Final

# --- CdoSendUsing -------------------------------------------------------------
cdoSendUsingPickup: Final = 1
cdoSendUsingPort: Final = 2

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

#: Names that web posts recommend but cdosys.dll has never contained (spec §1).
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
