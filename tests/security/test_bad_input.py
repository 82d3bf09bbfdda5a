"""Bad caller input fails with an InputError naming the field, before any connection is made."""

from __future__ import annotations

from typing import Any

import pytest

from cdomail.errors import InputError
from tests._server import CertificateSet, Script
from tests._server.fixtures import ServerFactory

from .helpers import MESSAGE, make_client, smtp_verbs

LONG_HEADER = b"X-Long: " + b"h" * 2000 + b"\r\n"


@pytest.mark.parametrize(
    ("message", "options", "field"),
    [
        (MESSAGE.replace(b"hostile test", b"hi\rRCPT TO:<evil@example.net>"), {}, "headers"),
        (MESSAGE, {"sender": "a@example.org\r\nRSET"}, "sender"),
        (MESSAGE, {"recipients": ["b@example.org\nDATA"]}, "recipient"),
        (MESSAGE, {"recipients": ["not an address"]}, "recipient"),
        (MESSAGE, {"recipients": ["b@@example.org"]}, "recipient"),
        (MESSAGE, {"sender": "<a@example.org>"}, "sender"),
        (LONG_HEADER + MESSAGE, {}, "headers"),
        (b"Subject: no addresses\r\n\r\nhi\r\n", {}, "sender"),
        ("text, not bytes", {}, "message"),
    ],
    ids=[
        "cr-in-subject",
        "crlf-in-sender",
        "lf-in-recipient",
        "invalid-address",
        "double-at",
        "angle-brackets",
        "2000-char-header",
        "no-sender",
        "str-message",
    ],
)
def test_bad_input_never_connects(
    hostile: ServerFactory,
    certs: CertificateSet,
    message: Any,
    options: dict[str, Any],
    field: str,
) -> None:
    server = hostile(Script())
    client = make_client(server, certs, tls="none")
    with pytest.raises(InputError) as info:
        client.send(message, **options)
    assert info.value.field == field
    assert str(info.value)  # a message that says what is wrong
    assert server.connections == 0


def test_non_ascii_address_without_smtputf8(hostile: ServerFactory, certs: CertificateSet) -> None:

    server = hostile(Script(capabilities=("PIPELINING", "8BITMIME")))
    client = make_client(server, certs, tls="none")
    client.connect()
    with pytest.raises(InputError) as info:
        client.send(MESSAGE, sender="müller@example.org")
    assert info.value.field in ("sender", "recipient")
    client.close()
    assert server.settle()
    assert smtp_verbs(server) == ["EHLO", "QUIT"]


@pytest.mark.parametrize("name", ["bad name", "me\r\nQUIT", "me\x00", "ünïcode.example"])
def test_bad_ehlo_name_never_connects(
    hostile: ServerFactory, certs: CertificateSet, name: str
) -> None:
    server = hostile(Script())
    with pytest.raises(InputError) as info:
        make_client(server, certs, tls="none", local_hostname=name).send(MESSAGE)
    assert info.value.field == "local_hostname"
    assert server.connections == 0
