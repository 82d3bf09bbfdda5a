"""SASL mechanisms as pure challenge/response values."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cdomail.errors import LocalProtocolError
from cdomail.protocol import CramMD5, Login, Plain, XOAuth2, password_authenticator


def test_plain_initial_response() -> None:
    assert Plain("user", "pass").initial_response() == b"\0user\0pass"


def test_login_answers_user_then_password_then_refuses() -> None:
    login = Login("user", "pass")
    assert login.initial_response() is None
    assert login.respond(b"Username:") == b"user"
    assert login.respond(b"Password:") == b"pass"
    with pytest.raises(LocalProtocolError):
        login.respond(b"more?")


def test_cram_md5_digest() -> None:
    challenge = b"<1896.697170952@postoffice.reston.mci.net>"
    expected = hmac.new(b"tanstaaftanstaaf", challenge, hashlib.md5).hexdigest()
    assert CramMD5("tim", "tanstaaftanstaaf").respond(challenge) == f"tim {expected}".encode()
    # RFC 2195's worked example.
    assert expected == "b913a602c7eda7a495b4e6e7334d3890"


def test_xoauth2_initial_response() -> None:
    assert XOAuth2("me@x.test", "tok").initial_response() == (
        b"user=me@x.test\x01auth=Bearer tok\x01\x01")


def test_reprs_hide_secrets() -> None:
    for mechanism in (Plain("u", "hunter2"), Login("u", "hunter2"), CramMD5("u", "hunter2"),
                      XOAuth2("u", "hunter2")):
        assert "hunter2" not in repr(mechanism)


def test_unknown_mechanism() -> None:
    with pytest.raises(LocalProtocolError):
        password_authenticator("SCRAM-SHA-1", "u", "p")
