"""Transaction semantics (RFC 5321 §3.3, RFC 2920, RFC 3030) and authentication (RFC 4954)."""

from __future__ import annotations

import pytest

from cdomail.errors import (
    AuthenticationFailed,
    AuthenticationRefusedLocally,
    DataRefused,
    InputError,
    RecipientsRefused,
    RemoteProtocolError,
    SenderRefused,
    TLSRequired,
)
from cdomail.protocol import MAX_CHALLENGES
from tests._server import CertificateSet, Script, TLSSetup
from tests._server.fixtures import ServerFactory

from .helpers import (
    MESSAGE,
    PASSWORD,
    USERNAME,
    assert_no_secret,
    auth_lines,
    data_lines,
    make_client,
    smtp_verbs,
)

CREDENTIALS = {"username": USERNAME, "password": PASSWORD}
LOCKSTEP = ("8BITMIME", "SMTPUTF8")  # no PIPELINING: one command per reply

# --- Transaction semantics (RFC 5321 §3.3, RFC 2920 §3.1, RFC 3030 §2) ----------------------


@pytest.mark.parametrize("capabilities", [LOCKSTEP, ("PIPELINING", *LOCKSTEP)])
def test_mail_rejected(
    hostile: ServerFactory, certs: CertificateSet, capabilities: tuple[str, ...]
) -> None:
    replies = {
        "MAIL": b"550 5.1.0 sender rejected\r\n",
        "RCPT": b"503 5.5.1 need MAIL first\r\n",
        "DATA": b"503 5.5.1 no valid recipients\r\n",
    }
    server = hostile(Script(capabilities=capabilities, replies=replies, strict=True))
    client = make_client(server, certs, tls="none")
    with pytest.raises(SenderRefused) as info:
        client.send(MESSAGE)
    assert type(info.value) is SenderRefused
    assert info.value.code == 550
    client.close()
    assert server.settle()
    verbs = smtp_verbs(server)
    assert "RSET" in verbs[verbs.index("MAIL") :]
    assert data_lines(server) == []
    assert "sync-error" not in " ".join(server.events)


def test_some_or_all_recipients_refused(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    some = hostile(Script(replies={"RCPT": [b"250 ok\r\n", b"550 5.1.1 no such user\r\n"]}))
    with make_client(some, certs, tls="none") as client:
        result = client.send(MESSAGE, recipients=["a@example.org", "b@example.org"])
    assert list(result.accepted) == ["a@example.org"]
    assert list(result.refused) == ["b@example.org"]
    assert result.refused["b@example.org"].code == 550
    assert len(some.bodies) == 1
    every = hostile(Script(capabilities=LOCKSTEP, replies={"RCPT": b"550 5.1.1 no\r\n"}))
    client = make_client(every, certs, tls="none")
    with pytest.raises(RecipientsRefused) as info:
        client.send(MESSAGE, recipients=["a@example.org", "b@example.org"])
    assert type(info.value) is RecipientsRefused
    client.close()
    assert [r.recipient for r in info.value.refused] == ["a@example.org", "b@example.org"]
    assert every.settle()
    # No DATA; the RSET's reply is read, so the session ends with QUIT (RFC 5321 §4.1.1.10).
    assert smtp_verbs(every) == ["EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"]


@pytest.mark.parametrize("data_reply", [b"354 go ahead\r\n", b"554 5.5.1 no recipients\r\n"])
def test_pipelined_all_rcpt_failed(
    hostile: ServerFactory, certs: CertificateSet, data_reply: bytes
) -> None:
    # After 354 the lone "." is refused as RFC 2920 §3.1 expects (a 250 there would be odd).
    script = Script(replies={"RCPT": b"550 5.1.1 no\r\n", "DATA": data_reply,
                             "DATA_END": b"554 5.5.1 no valid recipients\r\n"}, strict=True)
    server = hostile(script)
    client = make_client(server, certs, tls="none")
    with pytest.raises(RecipientsRefused) as info:
        client.send(MESSAGE)
    assert type(info.value) is RecipientsRefused
    client.close()
    assert server.settle()
    verbs = smtp_verbs(server)
    # One RSET (the batch adds no second one), its reply read, then QUIT.
    assert verbs[verbs.index("DATA") + 1:] == ["RSET", "QUIT"]
    # After 354: no content at all, just the lone "." (RFC 2920 §3.1).
    assert data_lines(server) == ([b".\r\n"] if data_reply.startswith(b"354") else [])


@pytest.mark.parametrize("code", [451, 503, 554])
def test_data_not_answered_354(hostile: ServerFactory, certs: CertificateSet, code: int) -> None:
    server = hostile(Script(replies={"DATA": f"{code} no data today\r\n".encode()}))
    client = make_client(server, certs, tls="none")
    with pytest.raises(DataRefused) as info:
        client.send(MESSAGE)
    assert type(info.value) is DataRefused
    assert info.value.code == code
    client.close()
    assert server.settle()
    assert data_lines(server) == []


@pytest.mark.parametrize("code", [451, 552, 554])
def test_final_reply_refused(
    hostile: ServerFactory, certs: CertificateSet, code: int
) -> None:
    final = [f"{code} 5.0.0 not this one\r\n".encode(), b"250 2.0.0 queued\r\n"]
    server = hostile(Script(replies={"DATA_END": final}))
    with make_client(server, certs, tls="none") as client:
        with pytest.raises(DataRefused) as info:
            client.send(MESSAGE)
        assert type(info.value) is DataRefused
        assert info.value.is_transient == (code < 500)
        client.send(MESSAGE)  # reuse after the refusal
    assert server.settle()
    if server.connections == 1:
        verbs = smtp_verbs(server)
        first_data = verbs.index("DATA")
        assert "RSET" in verbs[first_data : verbs.index("MAIL", first_data)]
    assert len(server.bodies) == 2


def test_size_declared_and_mail_refused(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    script = Script(
        capabilities=("SIZE 32", "8BITMIME"),
        replies={"MAIL": b"552 5.3.4 message too big\r\n"},
    )
    server = hostile(script)
    client = make_client(server, certs, tls="none")
    with pytest.raises(SenderRefused) as info:
        client.send(MESSAGE)
    assert type(info.value) is SenderRefused
    client.close()
    assert server.settle()
    mail = [line.data for line in server.lines if line.verb == "MAIL"]
    assert len(mail) == 1
    assert f" SIZE={len(MESSAGE)}".encode() in mail[0]
    assert "DATA" not in smtp_verbs(server)


@pytest.mark.parametrize("missing", ["SMTPUTF8", "8BITMIME"])
def test_missing_smtputf8_or_8bitmime(
    hostile: ServerFactory, certs: CertificateSet, missing: str
) -> None:
    capabilities = tuple(c for c in ("PIPELINING", "8BITMIME", "SMTPUTF8") if c != missing)
    server = hostile(Script(capabilities=capabilities))
    client = make_client(server, certs, tls="none")
    client.connect()
    if missing == "SMTPUTF8":
        with pytest.raises(InputError) as info:
            client.send(MESSAGE, recipients=["jürgen@exämple.org"])
        assert info.value.field == "recipient"
        client.close()
        assert server.settle()
        assert smtp_verbs(server) == ["EHLO", "QUIT"]
        return
    eight_bit = MESSAGE.replace(b"Hello.", "Grüße.".encode())
    refused: InputError | None = None
    try:
        client.send(eight_bit)
    except InputError as error:
        refused = error
    if refused is not None:
        assert refused.field == "body"
        client.close()
        assert server.settle()
        assert "DATA" not in smtp_verbs(server)
    else:
        client.close()
        assert server.settle()
        assert all(body.isascii() for body in server.bodies)  # encoded, not sent raw


def test_bdat_chunk_refused(hostile: ServerFactory, certs: CertificateSet) -> None:

    script = Script(
        capabilities=("CHUNKING", "8BITMIME"),
        replies={"BDAT": b"452 4.3.1 out of space\r\n"},
        strict=True,
    )
    server = hostile(script)
    big = MESSAGE + (b"b" * 998 + b"\r\n") * 2600  # about 2.6 MB: several chunks
    client = make_client(server, certs, tls="none")
    with pytest.raises(DataRefused) as info:
        client.send(big)
    assert type(info.value) is DataRefused
    assert info.value.code == 452
    client.close()
    assert server.settle()
    verbs = smtp_verbs(server)
    assert verbs.count("BDAT") == 1
    assert "DATA" not in verbs
    assert verbs[verbs.index("BDAT") + 1:] == ["RSET", "QUIT"]


# --- Authentication (RFC 4954 §4) --------------------------------------------------------------

LONG_AUTH = "AUTH PLAIN LOGIN CRAM-MD5 DIGEST-MD5 NTLM GSSAPI XOAUTH2 OAUTHBEARER SCRAM-SHA-1"


@pytest.mark.parametrize("mode", ["auto", "opportunistic"])
def test_stripped_starttls_long_auth_list(
    hostile: ServerFactory, certs: CertificateSet, mode: str
) -> None:
    server = hostile(Script(capabilities=("PIPELINING", LONG_AUTH)))
    client = make_client(server, certs, tls=mode, **CREDENTIALS)
    expected = TLSRequired if mode == "auto" else AuthenticationRefusedLocally
    with pytest.raises(expected) as info:
        client.send(MESSAGE)
    assert type(info.value) is expected
    assert server.settle()
    assert "AUTH" not in smtp_verbs(server)
    assert "MAIL" not in smtp_verbs(server)


def test_credentials_but_no_auth_after_tls(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    script = Script(tls=TLSSetup.STARTTLS, tls_capabilities=("PIPELINING", "8BITMIME"))
    server = hostile(script)
    client = make_client(server, certs, tls="starttls", **CREDENTIALS)
    with pytest.raises(AuthenticationRefusedLocally) as info:
        client.send(MESSAGE)
    assert type(info.value) is AuthenticationRefusedLocally
    assert server.settle()
    assert "MAIL" not in smtp_verbs(server)


def test_sasl_downgrade_refused(hostile: ServerFactory, certs: CertificateSet) -> None:

    script = Script(
        capabilities=("AUTH CRAM-MD5 PLAIN",),
        replies={"AUTH": [b"334 !!not base64!!\r\n", b"235 2.7.0 ok\r\n"]},
    )
    server = hostile(script)
    client = make_client(
        server,
        certs,
        tls="none",
        allow_plaintext_auth=True,
        auth_mechanisms=("CRAM-MD5", "PLAIN"),
        **CREDENTIALS,
    )
    with pytest.raises(RemoteProtocolError) as info:
        client.connect()
    assert type(info.value) is RemoteProtocolError
    assert server.settle()
    auth = [line.data.split()[1] for line in server.lines if line.verb == "AUTH"]
    assert auth == [b"CRAM-MD5"]  # no fallback to PLAIN outside verified TLS
    assert auth_lines(server) == [b"*\r\n"]


class _Patient:
    """An authenticator that answers any number of challenges (the cap must be the client's)."""

    mechanism = "X-PATIENT"

    def initial_response(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes:
        return b"again"


def test_endless_sasl_challenges_capped(hostile: ServerFactory, certs: CertificateSet) -> None:

    script = Script(
        tls=TLSSetup.IMPLICIT,
        capabilities=("AUTH X-PATIENT",),
        replies={"AUTH": b"334 bW9yZQ==\r\n", "AUTH_CONT": b"334 bW9yZQ==\r\n"},
    )
    server = hostile(script)
    client = make_client(server, certs, tls="implicit", authenticator=_Patient())
    with pytest.raises(RemoteProtocolError) as info:
        client.connect()
    assert type(info.value) is RemoteProtocolError
    assert server.settle()
    assert len(auth_lines(server)) <= MAX_CHALLENGES + 1


@pytest.mark.parametrize("reply", [b"535 5.7.8 bad credentials\r\n", b"454 4.7.0 try later\r\n"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_refused_without_secrets_in_error(
    hostile: ServerFactory, certs: CertificateSet, reply: bytes, mechanism: str
) -> None:
    last = "AUTH" if mechanism == "PLAIN" else "AUTH_CONT"
    replies = {last: reply} if mechanism == "PLAIN" else {"AUTH_CONT": [b"334 UGFzc3dvcmQ6\r\n",
                                                                          reply]}  # fmt: skip
    script = Script(tls=TLSSetup.IMPLICIT, capabilities=(f"AUTH {mechanism}",), replies=replies)
    server = hostile(script)
    client = make_client(server, certs, tls="implicit", **CREDENTIALS)
    with pytest.raises(AuthenticationFailed) as info:
        client.connect()
    assert type(info.value) is AuthenticationFailed
    assert info.value.code == int(reply[:3])
    for text, where in ((str(info.value), "str"), (repr(info.value), "repr"),
                        (repr(info.value.args), "args"), (repr(client), "client repr"),
                        (repr(client.config), "config repr")):  # fmt: skip
        assert_no_secret(text, where)
    assert server.settle()
