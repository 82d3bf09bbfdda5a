"""Read what Postfix delivered: its own Received header, and the message as sent."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

__all__ = ["PostfixReceived", "as_stored", "new_marker", "parse_delivered", "postfix_received"]

# RFC 3848 / RFC 6531 §3.7.3 "with" protocol names: ESMTP plus S (TLS) and A (AUTH), or the
# UTF8SMTP family when the client asked for SMTPUTF8.
_WITH = re.compile(r"\bwith (?P<protocol>(?:UTF8)?(?:E?SMTP|LMTP)S?A?) id (?P<queue_id>\w+)")
# smtpd_tls_received_header = yes: "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (...))"
_USING = re.compile(r"\(using (?P<version>TLSv[0-9.]+) with cipher (?P<cipher>[A-Za-z0-9_-]+)")
_AUTHENTICATED = re.compile(r"\(Authenticated sender: (?P<user>[^)]+)\)")


@dataclass(frozen=True)
class PostfixReceived:
    """The facts Postfix wrote into the Received header it added on arrival."""

    protocol: str
    queue_id: str
    tls_version: str | None
    cipher: str | None
    authenticated_sender: str | None
    raw: str

    @property
    def encrypted(self) -> bool:
        """True when Postfix recorded the session as TLS (the ``S`` in ESMTPS, RFC 3848)."""
        return self.protocol.rstrip("A").endswith("S")

    @property
    def authenticated(self) -> bool:
        """True when Postfix recorded SMTP AUTH (the ``A`` in ESMTPSA, RFC 3848)."""
        return self.protocol.endswith("A")


def new_marker() -> str:
    """A unique token to put in a header so the test finds its own message in the Maildir."""
    return f"interop-{uuid.uuid4().hex}"


def parse_delivered(data: bytes) -> EmailMessage:
    """Parse a delivered Maildir file into an :class:`EmailMessage`."""
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def postfix_received(delivered: bytes) -> PostfixReceived:
    """Parse the Received header Postfix put on *delivered* (the first one with ``(Postfix)``)."""
    header_block = delivered.split(b"\n\n", 1)[0].decode("utf-8", errors="replace")
    # Unfold (RFC 5322 §2.2.3) so each header is one line.
    unfolded = re.sub(r"\r?\n[ \t]+", " ", header_block)
    for line in unfolded.splitlines():
        if line.lower().startswith("received:") and "(Postfix)" in line:
            with_match = _WITH.search(line)
            assert with_match is not None, f"no 'with <protocol>' in {line!r}"
            using = _USING.search(line)
            authenticated = _AUTHENTICATED.search(line)
            return PostfixReceived(
                protocol=with_match["protocol"],
                queue_id=with_match["queue_id"],
                tls_version=using["version"] if using else None,
                cipher=using["cipher"] if using else None,
                authenticated_sender=authenticated["user"] if authenticated else None,
                raw=line,
            )
    raise AssertionError(f"no Received header from Postfix in:\n{header_block}")


def as_stored(sent: bytes) -> bytes:
    """The bytes a Maildir holds for a message sent as *sent*: lines end in LF, not CRLF."""
    return sent.replace(b"\r\n", b"\n")
