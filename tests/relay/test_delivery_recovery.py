"""What a restart does with deliveries a kill left on the wire, and a busy token endpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cdomail.lab import Lab, xoauth2
from cdomail.relay.config import DeliveryConfig, OAuth2Config
from cdomail.relay.delivery import DeliveryWorker
from cdomail.testing.token_endpoint import TokenEndpoint

from ._helpers import START, FakeClock, SpoolOpener, fill, relay_config, states


# Both backends: SQLite when `relay run` restarts; PostgreSQL when the worker restarts inside
# a running node (a restarted process is a new node that finds a dead node's sends by lease
# expiry instead: tests/relay_pg/test_leases.py covers that takeover).
@pytest.mark.parametrize(("at_least_once", "expected"), [(True, "queued"), (False, "unknown")])
def test_deliveries_left_in_flight_are_recorded_unknown_on_restart(
    tmp_path: Path, open_spool: SpoolOpener, at_least_once: bool, expected: str
) -> None:
    config = relay_config(tmp_path / "spool", host="127.0.0.1", port=9, tls="implicit",
                          delivery=DeliveryConfig(at_least_once=at_least_once))
    with open_spool() as spool:
        in_flight, untouched = fill(spool, 2, ("a@example.test", "b@example.test"))
        assert len(spool.due(START + 1, 10)) == 2  # claimed (PostgreSQL: by this queue)
        # What an interrupted worker leaves behind: the messages it had handed upstream.
        spool.mark_sending([in_flight, "gone-since"])
        assert spool.interrupted_sends() == [in_flight]
        worker = DeliveryWorker(config, spool, clock=FakeClock())
        assert asyncio.run(worker.recover_interrupted()) == 1
        assert set(states(spool, in_flight).values()) == {expected}
        detail = spool.show(in_flight)
        assert "delivery was interrupted" in (detail.attempts[0].error or "")
        assert {o.state for o in detail.attempt_outcomes[0].values()} == {"unknown"}
        assert spool.show(untouched).attempts == ()
        assert spool.interrupted_sends() == []  # the record ended the flag
        assert "in_flight" not in spool.health()  # on the message's row, not a health fact
        due = [m.id for m in spool.due(START + 1, 10)]
        assert (in_flight in due) is at_least_once


def test_busy_token_endpoint_keeps_mail_queued_until_it_answers(
    token_endpoint: TokenEndpoint, lab_certs_dir: Path, tmp_path: Path,
    open_spool: SpoolOpener, monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_endpoint.add_client("app", "app-secret")
    monkeypatch.setenv("CLIENT_SECRET", "app-secret")
    token_endpoint.fail_next(429, retry_after=120)
    clock = FakeClock()
    with Lab({"smtps": 0}, auth_mechanisms={"XOAUTH2": xoauth2(token_endpoint.validate)},
             certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        oauth2 = OAuth2Config(token_endpoint.url, "app", "env:CLIENT_SECRET",
                              "https://outlook.office365.com/.default", None, lab.ca_path)
        config = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("smtps"),
                              tls="implicit", cafile=lab.ca_path, auth="xoauth2",
                              username="s@example.test", oauth2=oauth2,
                              delivery=DeliveryConfig(retry=(30.0,)))
        with open_spool() as spool:
            (message_id,) = fill(spool, 1)
            worker = DeliveryWorker(config, spool, clock=clock)
            asyncio.run(worker.deliver_due())
            assert states(spool, message_id) == {"a@example.test": "queued"}
            assert spool.queue_hold() is None  # busy is not refused: no hold
            summary = spool.show(message_id).summary
            assert summary.next_attempt_at is not None
            assert summary.next_attempt_at >= START + 120  # Retry-After beats the 30 s pause
            assert "HTTP 429" in spool.health()["token"]["value"]["error"]
            clock.current = summary.next_attempt_at
            asyncio.run(worker.deliver_due())
            assert states(spool, message_id) == {"a@example.test": "delivered"}
        assert len(lab.messages) == 1 and token_endpoint.requests == 2
