"""Delivery to the lab upstream: STARTTLS required and implicit TLS, password and XOAUTH2."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cdomail.lab import Lab, StoredMessage, xoauth2
from cdomail.relay.config import DeliveryConfig, OAuth2Config
from cdomail.relay.delivery import DeliveryWorker
from cdomail.relay.spool import SpoolError
from cdomail.testing.pytest_plugin import LAB_PASSWORD, LAB_USER
from cdomail.testing.token_endpoint import TokenEndpoint

from ._helpers import FakeClock, SpoolOpener, fill, relay_config, states
from ._relay import Certificates, refuse_writes

MAILBOX = "relay@example.test"


def test_starttls_required_with_password(lab: Lab, tmp_path: Path, open_spool: SpoolOpener,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_PASSWORD", LAB_PASSWORD)
    config = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("starttls-required"),
                          tls="starttls", cafile=lab.ca_path, auth="password",
                          username=LAB_USER, password="env:UPSTREAM_PASSWORD")
    with open_spool() as spool:
        ids = fill(spool, 5, ("a@example.test", "b@example.test"))
        worker = DeliveryWorker(config, spool, clock=FakeClock())
        assert asyncio.run(worker.deliver_due()) == 5
        assert all(states(spool, i) == {"a@example.test": "delivered",
                                        "b@example.test": "delivered"} for i in ids)
        detail = spool.show(ids[0])
        attempt = detail.attempts[0]
        assert attempt.cert_verified is True and attempt.tls_version in ("TLSv1.2", "TLSv1.3")
        assert attempt.reply is not None and attempt.reply.startswith("250")
        assert detail.recipients[0].reply == attempt.reply  # the upstream's words are kept
    assert len(lab.messages) == 5
    assert all(m.encrypted and m.authenticated_as == LAB_USER for m in lab.messages)
    # The Message-ID the sender wrote is what arrives (duplicates stay recognisable).
    sent_ids = {m.data.split(b"Message-ID: ")[1].split(b"\r\n")[0] for m in lab.messages}
    assert sent_ids == {f"<m{n}@legacy.test>".encode() for n in range(5)}
    assert LAB_PASSWORD not in lab.transcripts_text()


def test_a_queue_failure_after_connecting_closes_the_upstream_connection(
        lab: Lab, tmp_path: Path, open_spool: SpoolOpener) -> None:
    """The queue fails (here: it refuses the health note written right after the upstream
    connection opened): the pass fails, and the connection is closed, not left open."""
    config = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("smtps"),
                          tls="implicit", cafile=lab.ca_path)
    with open_spool() as spool:
        (message_id,) = fill(spool, 1)
        refuse_writes(spool, "health")

        async def deliver() -> bool:
            with pytest.raises(SpoolError, match="cannot record health"):
                await DeliveryWorker(config, spool, clock=FakeClock()).deliver_due()
            # Still inside the event loop, the failure's traceback alive: closed by now.
            return await asyncio.to_thread(lab.wait_sessions_closed, 10)

        assert asyncio.run(deliver())
        assert states(spool, message_id) == {"a@example.test": "queued"}  # nothing judged
    assert len(lab.sessions) == 1 and lab.messages == []


def test_no_tls_no_delivery_when_starttls_is_required_of_us(tmp_path: Path,
                                                            open_spool: SpoolOpener) -> None:
    # The upstream offers no STARTTLS: the relay must not fall back to plaintext.
    with Lab({"plain": 0}, state_dir=tmp_path / "lab") as lab:
        config = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("plain"),
                              tls="starttls")
        with open_spool() as spool:
            (message_id,) = fill(spool, 1)
            asyncio.run(DeliveryWorker(config, spool, clock=FakeClock()).deliver_due())
            assert states(spool, message_id) == {"a@example.test": "queued"}
            assert "TLSRequired" in (spool.show(message_id).attempts[0].error or "")
            assert spool.health()["upstream"]["value"]["ok"] is False
        assert not lab.messages


def test_implicit_tls_with_xoauth2_one_token_for_all_connections(
    token_endpoint: TokenEndpoint, lab_certs_dir: Path, tmp_path: Path, open_spool: SpoolOpener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_endpoint.add_client("relay-app", "app-secret")
    token_endpoint.delay = 0.2
    monkeypatch.setenv("CLIENT_SECRET", "app-secret")
    with Lab({"smtps": 0}, auth_mechanisms={"XOAUTH2": xoauth2(token_endpoint.validate)},
             auth_required=True, certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        oauth2 = OAuth2Config(token_endpoint.url, "relay-app", "env:CLIENT_SECRET",
                              "https://outlook.office365.com/.default", None, lab.ca_path)
        config = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("smtps"),
                              tls="implicit", cafile=lab.ca_path, auth="xoauth2",
                              username=MAILBOX, oauth2=oauth2,
                              delivery=DeliveryConfig(concurrency=3))
        with open_spool() as spool:
            ids = fill(spool, 9)
            assert asyncio.run(DeliveryWorker(config, spool).deliver_due()) == 9
            assert all(states(spool, i) == {"a@example.test": "delivered"} for i in ids)
            assert spool.health()["token"]["value"] == {"ok": True, "grant": "client_credentials"}
        assert token_endpoint.requests == 1  # three connections, one token request
        assert len(lab.messages) == 9 and {m.authenticated_as for m in lab.messages} == {MAILBOX}
        assert len(lab.sessions) == 3


def test_invalid_grant_holds_the_queue_and_bounces_nothing(
    token_endpoint: TokenEndpoint, lab_certs_dir: Path, tmp_path: Path, open_spool: SpoolOpener,
) -> None:
    token_endpoint.add_client("gmail-relay")
    token_file = tmp_path / "refresh-token"
    token_file.write_text("rt-revoked-long-ago\n")
    with Lab({"smtps": 0}, auth_mechanisms={"XOAUTH2": xoauth2(token_endpoint.validate)},
             certs_dir=lab_certs_dir, state_dir=tmp_path / "lab") as lab:
        oauth2 = OAuth2Config(token_endpoint.url, "gmail-relay", None, "https://mail.google.com/",
                              f"file:{token_file}", lab.ca_path)
        config = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("smtps"),
                              tls="implicit", cafile=lab.ca_path, auth="xoauth2",
                              username=MAILBOX, oauth2=oauth2)
        with open_spool() as spool:
            ids = fill(spool, 3)
            asyncio.run(DeliveryWorker(config, spool, clock=FakeClock()).deliver_due())
            assert "invalid_grant" in (spool.queue_hold() or "")
            assert all(states(spool, i) == {"a@example.test": "queued"} for i in ids)
            assert len(spool.list()) == 3  # no DSN was queued
            health = spool.health()["token"]["value"]
            assert health["ok"] is False and health["queue_held"] is True
            assert spool.due(time.time() + 10**6, 10) == []
        assert not lab.messages and not lab.sessions  # never even connected


def test_rate_limit_and_concurrency_measured_at_the_upstream(tmp_path: Path,
                                                             open_spool: SpoolOpener) -> None:
    arrivals: list[float] = []
    lock = threading.Lock()

    def arrived(_: StoredMessage) -> None:
        with lock:
            arrivals.append(time.monotonic())

    with Lab({"smtps": 0}, on_message=arrived, latency_ms=20,
             state_dir=tmp_path / "lab") as lab:
        config = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("smtps"),
                              tls="implicit", cafile=lab.ca_path,
                              delivery=DeliveryConfig(concurrency=2, rate_limit=(3, 0.5)))
        with open_spool() as spool:
            fill(spool, 8)
            assert asyncio.run(DeliveryWorker(config, spool).deliver_due()) == 8
        assert len(lab.sessions) == 2  # concurrency: two connections, reused
    assert len(arrivals) == 8
    # Never more than 3 messages in any 0.5 s window (a little slack for the lab's thread).
    for first, later in zip(arrivals, arrivals[3:], strict=False):
        assert later - first >= 0.45


def test_a_queue_failure_before_sending_gives_the_rate_slots_back(
        tmp_path: Path, open_spool: SpoolOpener) -> None:
    """The queue fails when the chunk is flagged as being sent, after its rate slots were
    taken: the slots count as on the wire until given back, so they must be given back,
    or the next pass waits for a window that never frees (the worker's own limiter here;
    tests/relay_pg/test_limits.py runs the same with the cluster's)."""
    with open_spool() as spool:
        assert deliver_after_a_refused_mark(tmp_path, spool, None) == 2


def deliver_after_a_refused_mark(tmp_path: Path, spool: Any, limiter: Any) -> int:
    """Two messages, rate 2 per 0.2 s: a pass whose mark_sending the queue refuses, then
    (the refusal lifted) a pass that must deliver both within a few windows."""
    with Lab({"smtps": 0}, state_dir=tmp_path / "lab") as lab:
        config = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("smtps"),
                              tls="implicit", cafile=lab.ca_path,
                              delivery=DeliveryConfig(concurrency=1, rate_limit=(2, 0.2)))
        fill(spool, 2)
        lift = refuse_writes(spool, "messages", events=("UPDATE",), column="sending")

        async def passes() -> int:
            worker = DeliveryWorker(config, spool, rate_limiter=limiter)
            with pytest.raises(SpoolError, match="cannot mark the messages being sent"):
                await worker.deliver_due()
            lift()
            return await asyncio.wait_for(worker.deliver_due(), 10)

        delivered = asyncio.run(passes())
        assert len(lab.messages) == delivered
    return delivered


@pytest.mark.parametrize("failure", ["certificate from an unknown CA", "STARTTLS not offered"])
def test_an_upstream_tls_failure_holds_the_queue_and_bounces_nothing(
    lab: Lab, tmp_path: Path, open_spool: SpoolOpener, certificates: Certificates,
    failure: str,
) -> None:
    wrong: dict[str, Any]
    if failure == "STARTTLS not offered":
        wrong = {"port": lab.port("plain"), "cafile": lab.ca_path}
        expected = "does not offer STARTTLS"
    else:
        wrong = {"port": lab.port("starttls-required"), "cafile": certificates.ca_path}
        expected = "certificate"
    config = relay_config(tmp_path / "spool", host=lab.host, tls="starttls", **wrong)
    clock = FakeClock()
    with open_spool() as spool:
        ids = fill(spool, 3, ("a@example.test", "b@example.test"))
        asyncio.run(DeliveryWorker(config, spool, clock=clock).deliver_due())
        held = spool.queue_hold() or ""
        assert held.startswith("upstream TLS failed: ") and expected in held, held
        health = spool.health()["upstream"]["value"]
        assert health["ok"] is False and health["queue_held"] is True
        assert all(set(states(spool, i).values()) == {"queued"} for i in ids)
        # Past max_age nothing expires either: the queue is held, not the mail retried.
        clock.current += config.delivery.max_age + 1
        assert asyncio.run(DeliveryWorker(config, spool, clock=clock).deliver_due()) == 0
        spool.release_all()  # what `cdomail relay release --all` does
        asyncio.run(DeliveryWorker(config, spool, clock=clock).deliver_due())  # still wrong
        assert (spool.queue_hold() or "").startswith("upstream TLS failed: ")
        assert all(set(states(spool, i).values()) == {"queued"} for i in ids)
        assert len(spool.list()) == 3 and spool.counts()["expired"] == 0  # no DSN, no expiry
        assert spool.counts()["bounced"] == 0
        fixed = relay_config(tmp_path / "spool", host=lab.host, port=lab.port("starttls"),
                             tls="starttls", cafile=lab.ca_path)
        spool.release_all()
        assert asyncio.run(DeliveryWorker(fixed, spool, clock=clock).deliver_due()) == 3
        assert all(set(states(spool, i).values()) == {"delivered"} for i in ids)
    assert len(lab.messages) == 3  # nothing went out in clear or to an unverified server
