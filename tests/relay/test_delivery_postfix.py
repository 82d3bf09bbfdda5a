"""Real Postfix as the relay's upstream (the private instance of tests/interop)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cdomail.relay._model import ArrivalFacts
from cdomail.relay.delivery import DeliveryWorker
from cdomail.relay.spool import Spool
from tests.interop._postfix import SASL_AUTHENTICATED_AS, SASL_PASSWORD, SASL_USERNAME
from tests.interop._programs import require_program

from ._helpers import FakeClock, relay_config, states

if TYPE_CHECKING:
    from tests.interop._postfix import PostfixInstance

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def store(spool: Spool, marker: str, recipients: tuple[str, ...]) -> str:
    content = (f"From: app@example.test\r\nTo: a@example.test\r\nSubject: {marker}\r\n"
               f"Message-ID: <{marker}@legacy.test>\r\n\r\n8-bit body: caf\xe9\r\n"
               ).encode("latin-1")
    arrival = ArrivalFacts("127.0.0.1", "printer", None, None, None, 1_700_000_000.0)
    return spool.store("app@example.test", recipients, content, arrival)


@pytest.mark.parametrize(("listener", "tls"), [("starttls-required", "starttls"),
                                               ("smtps", "implicit")])
def test_delivery_to_postfix_with_sasl_login(
    postfix: PostfixInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    listener: str, tls: str,
) -> None:
    if not postfix.sasl_enabled:
        require_program("saslpasswd2")
    monkeypatch.setenv("UPSTREAM_PASSWORD", SASL_PASSWORD)
    config = relay_config(tmp_path / "spool", host=postfix.host, port=postfix.port(listener),
                          tls=tls, cafile=postfix.ca_path, auth="password",
                          username=SASL_USERNAME, password="env:UPSTREAM_PASSWORD")
    marker = f"relay-{uuid.uuid4().hex}"
    with Spool.open(tmp_path / "spool") as spool:
        message_id = store(spool, marker, ("a@example.test", "b@example.test"))
        asyncio.run(DeliveryWorker(config, spool, clock=FakeClock()).deliver_due())
        assert states(spool, message_id) == {"a@example.test": "delivered",
                                             "b@example.test": "delivered"}
        attempt = spool.show(message_id).attempts[0]
        assert attempt.cert_verified is True and attempt.reply is not None
        assert attempt.reply.startswith("250 2.0.0 Ok:") and "queued as" in attempt.reply
    delivered = postfix.wait_for_message(marker.encode())
    received = delivered.split(b"\n\n")[0].decode("utf-8", "replace")
    assert "with ESMTPSA" in received  # Postfix's own word: TLS and SASL
    assert SASL_AUTHENTICATED_AS in postfix.log_text()


def test_postfix_refusing_a_recipient_bounces_it(postfix: PostfixInstance,
                                                 tmp_path: Path) -> None:
    config = relay_config(tmp_path / "spool", host=postfix.host,
                          port=postfix.port("starttls"), tls="starttls", cafile=postfix.ca_path)
    marker = f"relay-{uuid.uuid4().hex}"
    with Spool.open(tmp_path / "spool") as spool:
        # The private Postfix relays nowhere: a recipient outside example.test is refused.
        message_id = store(spool, marker, ("a@example.test", "x@elsewhere.invalid"))
        asyncio.run(DeliveryWorker(config, spool, clock=FakeClock()).deliver_due())
        assert states(spool, message_id) == {"a@example.test": "delivered",
                                             "x@elsewhere.invalid": "bounced"}
        refused = spool.show(message_id).recipients[1].reply or ""
        assert refused.startswith("550 5.1.1") and "never relay" in refused
        (dsn,) = [m for m in spool.list() if m.id != message_id]
        assert dsn.sender == "" and b"Status: 5.1.1" in spool.content(dsn.id)
    postfix.wait_for_message(marker.encode())
