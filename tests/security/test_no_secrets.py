"""No password or token in any repr, exception message, exception chain, traceback locals or log
record, against the lab's real AUTH PLAIN, LOGIN, XOAUTH2."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import pickle
import traceback
from collections.abc import Iterator

import pytest
from aiosmtpd.smtp import AuthResult

import cdomail
from cdomail import AsyncSMTPClient, Pool, SMTPClient
from cdomail.errors import AuthenticationFailed, CdoMailError
from cdomail.lab import Lab, LabSMTP
from cdomail.protocol import Login, Plain, Secret, XOAuth2, password_authenticator
from cdomail.testing import LAB_PASSWORD, LAB_USER

WRONG_PASSWORD = "Wr0ng-zebra-Pa55"
TOKEN = "ya29.good-token-0123456789"
WRONG_TOKEN = "ya29.bad-token-9876543210"
OAUTH_USER = "me@cdomail.test"


def secret_forms(user: str, secret: str) -> list[str]:
    """Every form a leak could take: raw, base64 alone, inside AUTH PLAIN, inside XOAUTH2."""
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"\0{user}\0{secret}".encode()).decode(),
        base64.b64encode(f"user={user}\x01auth=Bearer {secret}\x01\x01".encode()).decode(),
    ]


def assert_clean(text: str, user: str, secret: str, where: str) -> None:
    for form in secret_forms(user, secret):
        assert form not in text, f"{where} leaks {form!r}"


async def xoauth2(server: LabSMTP, args: list[str]) -> AuthResult:
    answer = base64.b64decode(args[1])
    if answer == f"user={OAUTH_USER}\x01auth=Bearer {TOKEN}\x01\x01".encode():
        return AuthResult(success=True, auth_data=OAUTH_USER)
    return AuthResult(success=False, handled=False)


@pytest.fixture
def debug_log() -> Iterator[list[logging.LogRecord]]:
    """Every record of the ``cdomail`` logger tree, DEBUG and up."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("cdomail")
    handler = Keep(logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def exception_text(error: BaseException, *, through: str) -> str:
    """str, repr and the formatted traceback WITH local variables, of the whole chain;
    ``through`` names a library function the traceback must show (so locals were seen)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current)]
        # Every frame of cdomail's own code the error passed through, with its locals as a
        # traceback-with-locals prints them (the test's own frames hold the secret, of course).
        library = [
            (frame, line) for frame, line in traceback.walk_tb(current.__traceback__)
            if f"{os.sep}cdomail{os.sep}" in frame.f_code.co_filename
        ]
        stack = traceback.StackSummary.extract(iter(library), capture_locals=True)
        parts += stack.format()
        current = current.__cause__ or current.__context__
    assert any(f"in {through}\n" in part for part in parts), "no library frame was checked"
    return "\n".join(parts)


def log_text(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.getMessage()} {r.args!r}" for r in records)


CASES = [
    ("PLAIN", LAB_USER, LAB_PASSWORD, WRONG_PASSWORD),
    ("LOGIN", LAB_USER, LAB_PASSWORD, WRONG_PASSWORD),
    ("XOAUTH2", OAUTH_USER, TOKEN, WRONG_TOKEN),
]


def credentials(mechanism: str, user: str, secret: str) -> dict[str, object]:
    if mechanism == "XOAUTH2":
        return {"username": user, "oauth2_token": secret}
    return {"username": user, "password": secret, "auth_mechanisms": [mechanism]}


@pytest.mark.lab(auth_mechanisms={"XOAUTH2": xoauth2})
@pytest.mark.parametrize(("mechanism", "user", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_no_secret_in_logs_reprs_or_errors(
    lab: Lab, debug_log: list[logging.LogRecord], mechanism: str, user: str, good: str, bad: str
) -> None:
    client = SMTPClient("localhost", lab.port("starttls"), cafile=str(lab.ca_path),
                        **credentials(mechanism, user, good))  # type: ignore[arg-type]
    with client:
        client.send(b"From: a@cdomail.test\r\nTo: b@cdomail.test\r\n\r\nhi\r\n")
        assert_clean(repr(client) + repr(client.config), user, good, "client repr")
    failing = SMTPClient("localhost", lab.port("starttls"), cafile=str(lab.ca_path),
                         **credentials(mechanism, user, bad))  # type: ignore[arg-type]
    with pytest.raises(AuthenticationFailed) as info:
        failing.connect()
    logged = log_text(debug_log)
    # The log is not empty: the conversation is there, its AUTH payload redacted.
    assert f"AUTH {mechanism}" in logged
    assert "***" in logged
    assert any(r.name.startswith("cdomail.") for r in debug_log)
    for secret in (good, bad):
        assert_clean(logged, user, secret, "the DEBUG log")
    chain = exception_text(info.value, through="_authenticate")
    assert_clean(chain, user, bad, "the exception chain or its locals")
    assert_clean(repr(failing) + repr(failing.config), user, bad, "the failing client's repr")


@pytest.mark.lab(auth_mechanisms={"XOAUTH2": xoauth2})
def test_async_client_logs_without_secrets(lab: Lab, debug_log: list[logging.LogRecord]) -> None:
    async def main() -> None:
        async with AsyncSMTPClient("localhost", lab.port("smtps"), tls="implicit",
                                   cafile=str(lab.ca_path), username=LAB_USER,
                                   password=WRONG_PASSWORD) as client:
            await client.send(b"From: a@cdomail.test\r\nTo: b@cdomail.test\r\n\r\nhi\r\n")

    with pytest.raises(AuthenticationFailed) as info:
        asyncio.run(main())
    assert "AUTH" in log_text(debug_log)
    assert_clean(log_text(debug_log), LAB_USER, WRONG_PASSWORD, "the async DEBUG log")
    assert_clean(exception_text(info.value, through="_authenticate"), LAB_USER, WRONG_PASSWORD,
                 "the async exception")


def test_a_sasl_failure_wrapping_the_payload_leaks_nothing(lab: Lab) -> None:
    """A challenge the mechanism cannot answer: the error and its whole chain stay clean."""
    authenticator = Plain(LAB_USER, WRONG_PASSWORD)
    with pytest.raises(CdoMailError) as info:
        authenticator.respond(b"unexpected challenge")
    assert_clean(exception_text(info.value, through="respond"), LAB_USER, WRONG_PASSWORD,
                 "the SASL error")


def test_pool_and_authenticator_reprs_hide_secrets(lab: Lab) -> None:
    pool = Pool("localhost", lab.port("starttls"), cafile=str(lab.ca_path),
                username=LAB_USER, password=WRONG_PASSWORD)
    shown = [repr(pool)]
    for mechanism in ("PLAIN", "LOGIN", "CRAM-MD5"):
        shown.append(repr(password_authenticator(mechanism, LAB_USER, WRONG_PASSWORD)))
    shown += [repr(XOAuth2(OAUTH_USER, WRONG_TOKEN)), repr(Login(LAB_USER, WRONG_PASSWORD))]
    for text in shown:
        assert_clean(text, LAB_USER, WRONG_PASSWORD, "a repr")
        assert_clean(text, OAUTH_USER, WRONG_TOKEN, "a repr")


def test_secret_shows_itself_only_when_revealed() -> None:
    secret = Secret(WRONG_PASSWORD)
    assert repr(secret) == str(secret) == f"{secret}" == f"{secret!r:>5}" == "Secret('***')"
    assert secret.reveal() == WRONG_PASSWORD
    assert Secret(secret) == secret and Secret.wrap(secret) is secret
    assert Secret.wrap(None) is None
    with pytest.raises(TypeError) as info:
        pickle.dumps(secret)
    assert WRONG_PASSWORD not in str(info.value)
    with pytest.raises(TypeError) as bad_type:
        Secret(b"bytes-password")  # type: ignore[arg-type]
    assert "bytes-password" not in str(bad_type.value)


def test_a_secret_passes_through_the_client_unrevealed(lab: Lab) -> None:
    """Callers may hand a Secret in; the config keeps Secrets whatever it was given."""
    with SMTPClient("localhost", lab.port("starttls"), cafile=str(lab.ca_path),
                    username=LAB_USER, password=Secret(LAB_PASSWORD)) as client:
        client.send(b"From: a@cdomail.test\r\nTo: b@cdomail.test\r\n\r\nhi\r\n")
        assert isinstance(client.config.password, Secret)
    plain = SMTPClient("localhost", 25, username=LAB_USER, password=LAB_PASSWORD)
    assert isinstance(plain.config.password, Secret)
    assert lab.messages[0].authenticated_as == LAB_USER
    assert cdomail.SMTPClient is SMTPClient


@pytest.mark.parametrize("client_class", [SMTPClient, AsyncSMTPClient])
def test_a_configuration_error_shows_no_secret_in_its_locals(
    client_class: type[SMTPClient] | type[AsyncSMTPClient],
) -> None:
    with pytest.raises(cdomail.ConfigurationError) as info:
        client_class("mail.example.org", 587, username=LAB_USER, password=WRONG_PASSWORD,
                     local_hostname="not a valid name")
    text = exception_text(info.value, through="build")
    assert "__init__" in text
    assert_clean(text, LAB_USER, WRONG_PASSWORD, "a configuration error's traceback")
