"""Output a server cannot forge (terminal spoofing): ESC/CSI/OSC sequences, C1 controls, DEL and
bidi controls from a hostile server reach no person raw, in any place the client shows them."""

from __future__ import annotations

import json
import logging

import pytest

from cdomail import SendResult, Transcript
from cdomail._escape import json_dumps
from cdomail.errors import (
    AuthenticationRefusedLocally,
    CdoMailError,
    DataRefused,
    GreetingRefused,
    RecipientsRefused,
    SenderRefused,
    UnexpectedReply,
    printable,
)
from tests._server import CertificateSet, Script
from tests._server.fixtures import ServerFactory

from .helpers import MESSAGE, make_client

#: Everything a terminal or a viewer acts on: erase + cursor up (CSI), an OSC title with BEL,
#: the one-byte C1 CSI (U+009B), DEL, a bare CR, bidi override and isolate, a direction mark.
PAYLOAD = (
    "\x1b[2K\x1b[1A\x1b]0;owned\x07\u009b31m\x7f\r\u202eDETPYRCNE\u202c"
    "\u2066x\u2069\u200f TLS: ENCRYPTED (verified)"
)
RAW = ("\x1b", "\x07", "\u009b", "\x7f", "\r", "\u202e", "\u202c", "\u2066", "\u2069", "\u200f")


def assert_escaped(text: str, where: str) -> None:
    for char in RAW:
        assert char not in text, f"{where} shows {char!r} raw"


def hostile_line(prefix: bytes) -> bytes:
    return prefix + PAYLOAD.encode() + b"\r\n"


def test_printable_escapes_every_class_and_keeps_text() -> None:
    shown = printable("caf\u00e9 \u65e5\u672c \t" + PAYLOAD + "\nnext")
    assert_escaped(shown, "printable()")
    assert shown.startswith("caf\u00e9 \u65e5\u672c \t")  # letters of any script and tab stay
    assert "\\x1b[2K" in shown and "\\x9b" in shown and "\\u202e" in shown and "\\x7f" in shown
    assert shown.endswith("\nnext")
    assert "\n" not in printable("a\nb", newlines=False)


@pytest.mark.parametrize(
    ("replies", "error_type"),
    [
        ({"MAIL": hostile_line(b"550 5.7.1 ")}, SenderRefused),
        ({"RCPT": hostile_line(b"550 5.1.1 ")}, RecipientsRefused),
        ({"DATA": hostile_line(b"554 5.6.0 ")}, DataRefused),
        ({"DATA_END": hostile_line(b"554 5.6.0 ")}, DataRefused),
        ({"DATA_END": hostile_line(b"251 ")}, UnexpectedReply),
    ],
    ids=["MAIL", "RCPT", "DATA", "end-of-data", "unexpected"],
)
def test_errors_transcript_log_and_json_escape_server_text(
    hostile: ServerFactory, certs: CertificateSet, caplog: pytest.LogCaptureFixture,
    replies: dict[str, bytes], error_type: type[CdoMailError],
) -> None:
    server = hostile(Script(replies=replies))
    transcript = Transcript()
    caplog.set_level(logging.DEBUG, logger="cdomail")
    client = make_client(server, certs, tls="none", transcript=transcript)
    try:
        results = client.send_many([MESSAGE])
    finally:
        client.close()
    [result] = results
    assert isinstance(result.error, error_type)
    shown = {
        "str(error)": str(result.error),
        "transcript": transcript.render(),
        "transcript JSON": json.dumps(transcript.to_list(), ensure_ascii=False),
        "log": caplog.text,
        "result JSON": _result_json(result),
    }
    for where, text in shown.items():
        assert_escaped(text, where)
    assert "TLS: ENCRYPTED" in str(result.error)  # shown, but inert
    assert "EHLO" in caplog.text  # the log does hold the conversation


def _result_json(result: SendResult) -> str:
    return json_dumps(result.to_dict())


def test_greeting_and_auth_mechanism_names_are_escaped(
    hostile: ServerFactory, certs: CertificateSet
) -> None:
    refused = hostile(Script(greeting=hostile_line(b"554 ")))
    with pytest.raises(GreetingRefused) as greeting:
        make_client(refused, certs, tls="none").send(MESSAGE)
    assert_escaped(str(greeting.value), "a refused greeting")
    mechanisms = ("250-hostile.test\r\n250 AUTH X-\x1b[31mPLAIN\u202e \u009bLOGIN\r\n").encode()
    odd = hostile(Script(replies={"EHLO": mechanisms}))
    client = make_client(odd, certs, tls="none", username="u@example.org", password="pw-123456",
                         allow_plaintext_auth=True, auth_mechanisms=["PLAIN"])
    with pytest.raises(AuthenticationRefusedLocally) as auth:
        client.connect()
    assert "PLAIN" in str(auth.value)
    assert_escaped(str(auth.value), "the AUTH mechanism list")


def test_json_escapes_what_json_dumps_leaves_raw() -> None:
    document = {"banner": PAYLOAD, "name": "caf\u00e9", "astral": "\U000e0001tag"}
    readable = json.dumps(document, ensure_ascii=False)
    assert "\x7f" in readable and "\u202e" in readable  # what the stdlib leaves raw
    text = json_dumps(document, indent=2)
    assert_escaped(text, "json_dumps")
    assert "\\u001b" in text and "\\u007f" in text and "\\u009b" in text and "\\u202e" in text
    assert "caf\u00e9" in text  # readable letters stay readable
    assert "\\udb40\\udc01" in text  # an invisible tag character, as its surrogate pair
    assert json.loads(text) == document
