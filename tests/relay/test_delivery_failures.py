"""Injected upstream failures (the hostile server) and what the spool records for each."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import Message
from pathlib import Path
from typing import Any, cast

import pytest

from cdomail.relay.config import DeliveryConfig
from cdomail.relay.delivery import DeliveryWorker
from cdomail.relay.spool import Spool
from tests._server.fixtures import ServerFactory
from tests._server.script import Close, Script

from ._helpers import START, FakeClock, SpoolOpener, fill, relay_config, states

CAPABILITIES = ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN")
TWO = ("a@example.test", "b@example.test")


def worker_for(server_port: int, tmp_path: Path, spool: Spool, *, clock: FakeClock | None = None,
               delivery: DeliveryConfig | None = None, **upstream: Any) -> DeliveryWorker:
    config = relay_config(tmp_path / "spool", host="127.0.0.1", port=server_port, tls="none",
                          allow_plaintext=True, delivery=delivery, **upstream)
    return DeliveryWorker(config, spool, clock=clock or FakeClock(), reporting_mta="relay.test")


def other_messages(spool: Spool, known: list[str]) -> list[str]:
    return [s.id for s in spool.list() if s.id not in known]


def test_per_recipient_550_bounces_that_recipient_with_an_rfc3464_dsn(
    hostile: ServerFactory, tmp_path: Path, open_spool: SpoolOpener
) -> None:
    server = hostile(Script(capabilities=CAPABILITIES, replies={
        "RCPT": [b"250 2.1.5 ok\r\n", b"550 5.1.1 <b@example.test>: no such user\r\n"]}))
    with open_spool() as spool:
        ids = fill(spool, 1, TWO)
        asyncio.run(worker_for(server.port, tmp_path, spool).deliver_due())
        assert states(spool, ids[0]) == {"a@example.test": "delivered",
                                         "b@example.test": "bounced"}
        (dsn_id,) = other_messages(spool, ids)
        dsn = spool.show(dsn_id)
        assert dsn.summary.sender == "" and [r.address for r in dsn.recipients] == [
            "app@legacy.test"]
        report = email.message_from_bytes(spool.content(dsn_id), policy=email.policy.default)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert report["Auto-Submitted"] == "auto-replied"
    _, status, original = report.iter_parts()
    assert status.get_content_type() == "message/delivery-status"
    per_message, per_recipient = cast(list[Message], status.get_payload())
    assert per_message["Reporting-MTA"] == "dns; relay.test"
    assert per_recipient["Final-Recipient"] == "rfc822; b@example.test"
    assert per_recipient["Action"] == "failed"
    assert per_recipient["Status"] == "5.1.1"
    assert per_recipient["Diagnostic-Code"] == "smtp; 550 5.1.1 <b@example.test>: no such user"
    assert per_recipient["Remote-MTA"] == "dns; 127.0.0.1"
    assert original.get_content_type() == "text/rfc822-headers"
    assert b"Message-ID: <m0@legacy.test>" in original.get_payload(decode=True)
    assert b"body 0" not in original.get_payload(decode=True)


def test_no_bounce_for_a_bounce(hostile: ServerFactory, tmp_path: Path,
                                open_spool: SpoolOpener) -> None:
    server = hostile(Script(capabilities=CAPABILITIES,
                            replies={"RCPT": b"550 5.1.1 no such user\r\n"}))
    with open_spool() as spool:
        ids = fill(spool, 1, sender="")  # a DSN from somewhere: the null sender
        asyncio.run(worker_for(server.port, tmp_path, spool).deliver_due())
        assert states(spool, ids[0]) == {"a@example.test": "bounced"}
        assert other_messages(spool, ids) == []


def test_4xx_retries_on_the_schedule_then_expires_and_bounces(
    hostile: ServerFactory, tmp_path: Path, open_spool: SpoolOpener
) -> None:
    server = hostile(Script(capabilities=CAPABILITIES,
                            replies={"DATA_END": b"451 4.3.0 try again later\r\n"}))
    clock = FakeClock()
    delivery = DeliveryConfig(retry=(10.0, 20.0), max_age=60.0)
    with open_spool() as spool:
        ids = fill(spool, 1, TWO)
        worker = worker_for(server.port, tmp_path, spool, clock=clock, delivery=delivery)

        async def run_until_final() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))
            while spool.counts()["queued"]:
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.wait_for(task, 10)

        asyncio.run(asyncio.wait_for(run_until_final(), 60))
        detail = spool.show(ids[0])
        assert states(spool, ids[0]) == {"a@example.test": "expired", "b@example.test": "expired"}
        times = [a.started_at - START for a in detail.attempts]
        # 0, then ~10, ~20 and ~20 later (±10 % jitter), and one last try at max_age.
        assert len(times) == 5 and times[0] == 0 and times[-1] == pytest.approx(60, abs=1.5)
        assert 9 <= times[1] <= 11 and 17 <= times[2] - times[1] <= 23
        assert all(a.reply == "451 4.3.0 try again later" for a in detail.attempts)
        (dsn_id,) = other_messages(spool, ids)
        text = spool.content(dsn_id).decode()
        # The DSN (null sender) went to the same failing upstream, expired in turn and,
        # being a bounce itself, was not bounced again.
        assert states(spool, dsn_id) == {"app@legacy.test": "expired"}
        assert len(spool.list()) == 2
    assert "Status: 4.3.0" in text and "Action: failed" in text
    assert "maximum age" in text
    assert server.verbs().count("MAIL") == 10


@pytest.mark.parametrize(("replies", "error"), [
    ({"MAIL": b"421 4.3.2 shutting down\r\n"}, "ServiceClosing"),
    ({"RCPT": b"450 4.2.1 mailbox busy\r\n"}, "RecipientsRefused"),
])
def test_transient_refusals_stay_queued_with_the_reason(
    hostile: ServerFactory, tmp_path: Path, open_spool: SpoolOpener, replies: dict[str, bytes],
    error: str,
) -> None:
    server = hostile(Script(capabilities=CAPABILITIES, replies=replies))
    with open_spool() as spool:
        ids = fill(spool, 2)
        asyncio.run(worker_for(server.port, tmp_path, spool).deliver_due())
        for message_id in ids:
            assert states(spool, message_id) == {"a@example.test": "queued"}
            detail = spool.show(message_id)
            assert error in (detail.attempts[0].error or "")
            assert detail.summary.next_attempt_at is not None
            assert detail.summary.next_attempt_at > START
        assert spool.queue_hold() is None


@pytest.mark.parametrize("replies", [
    {"AUTH": b"535 5.7.3 Authentication unsuccessful\r\n"},
    {"MAIL": b"550 5.7.30 Basic authentication is not supported for Client Submission\r\n"},
])
def test_refused_relay_credentials_hold_the_queue_and_bounce_nothing(
    hostile: ServerFactory, tmp_path: Path, open_spool: SpoolOpener,
    monkeypatch: pytest.MonkeyPatch,
    replies: dict[str, bytes],
) -> None:
    monkeypatch.setenv("UPSTREAM_PASSWORD", "pw-never-shown")
    server = hostile(Script(capabilities=CAPABILITIES, replies=replies))
    with open_spool() as spool:
        ids = fill(spool, 3, TWO)
        worker = worker_for(server.port, tmp_path, spool, auth="password",
                            username="sender@contoso.test", password="env:UPSTREAM_PASSWORD")
        asyncio.run(worker.deliver_due())
        assert "credentials refused" in (spool.queue_hold() or "")
        assert all(set(states(spool, i).values()) == {"queued"} for i in ids)
        assert other_messages(spool, ids) == []  # no DSN
        assert spool.counts()["bounced"] == 0
        health = spool.health()["upstream"]["value"]
        assert health["queue_held"] is True and "5.7." in health["error"]
        assert "pw-never-shown" not in repr(spool.health()) + str(spool.show(ids[0]))
        assert asyncio.run(worker.deliver_due()) == 0  # held: nothing is due
        spool.release_all()
        assert len(spool.due(START + 10**6, 10)) == 3


@pytest.mark.parametrize("at_least_once", [True, False])
def test_connection_lost_after_the_final_dot_is_recorded_unknown(
    hostile: ServerFactory, tmp_path: Path, open_spool: SpoolOpener, at_least_once: bool
) -> None:
    server = hostile(Script(capabilities=CAPABILITIES, replies={"DATA_END": Close()}))
    with open_spool() as spool:
        ids = fill(spool, 1)
        delivery = DeliveryConfig(at_least_once=at_least_once)
        asyncio.run(worker_for(server.port, tmp_path, spool, delivery=delivery).deliver_due())
        detail = spool.show(ids[0])
        assert detail.attempt_outcomes[0]["a@example.test"].state == "unknown"
        assert "status unknown" in (detail.recipients[0].reply or "")
        expected = "queued" if at_least_once else "unknown"
        assert states(spool, ids[0]) == {"a@example.test": expected}
        assert other_messages(spool, ids) == []  # an unknown is never bounced
    assert len(server.bodies) == 1


def test_drop_during_data_after_the_content_went_out_is_unknown_and_retried(
    hostile: ServerFactory, tmp_path: Path, open_spool: SpoolOpener
) -> None:
    # The upstream hangs up during DATA; the small message was already written whole, so
    # the relay cannot know whether the upstream kept it (RFC 5321 §4.5.3.2.6).
    server = hostile(Script(capabilities=CAPABILITIES, data_disconnect_after=20))
    with open_spool() as spool:
        ids = fill(spool, 1)
        asyncio.run(worker_for(server.port, tmp_path, spool).deliver_due())
        detail = spool.show(ids[0])
        assert detail.attempt_outcomes[0]["a@example.test"].state == "unknown"
        assert "StatusUnknown" in (detail.attempts[0].error or "")
        assert states(spool, ids[0]) == {"a@example.test": "queued"}  # at least once


def test_upstream_down_retries_and_records_health(tmp_path: Path, open_spool: SpoolOpener) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with open_spool() as spool:
        ids = fill(spool, 2)
        asyncio.run(worker_for(port, tmp_path, spool).deliver_due())
        assert all(states(spool, i) == {"a@example.test": "queued"} for i in ids)
        assert "ConnectError" in (spool.show(ids[0]).attempts[0].error or "")
        assert spool.health()["upstream"]["value"]["ok"] is False
