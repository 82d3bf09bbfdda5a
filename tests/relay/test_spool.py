"""The spool: durable on return, nothing half-stored, and every admin operation."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from cdomail.relay._model import ArrivalFacts, AttemptRecord, AttemptResult, RecipientOutcome
from cdomail.relay._schema import SCHEMA_VERSION
from cdomail.relay.queue import open_queue
from cdomail.relay.spool import (
    SPOOL_FILENAME,
    MessageNotFound,
    Spool,
    SpoolError,
    extract_message_id,
)

CONTENT = b"Message-ID: <abc.123@printer.example>\r\nSubject: scan\r\n\r\n\xe9t\xe9 8-bit body\r\n"
T0 = 1_800_000_000.0


def _arrival(at: float = T0, **changes: object) -> ArrivalFacts:
    facts = {"client_address": "127.0.0.1", "helo": "printer", "tls_version": "TLSv1.3",
             "tls_cipher": "TLS_AES_256_GCM_SHA384", "authenticated_user": "printer",
             "received_at": at, "bare_lf_normalised": True}
    facts.update(changes)
    return ArrivalFacts(**facts)  # type: ignore[arg-type]


def _attempt(at: float, **changes: object) -> AttemptRecord:
    fields = {"started_at": at, "finished_at": at + 1, "upstream": "smtp.example:587",
              "tls_version": "TLSv1.3", "tls_cipher": "X", "cert_verified": True,
              "reply": "250 2.0.0 OK", "error": None}
    fields.update(changes)
    return AttemptRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def spool(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Spool]:
    """Each queue backend in turn: the API tests below hold for both (one suite).

    Typed as the SQLite spool: the PostgreSQL queue has the same methods (cdomail.relay.queue).
    """
    if request.param == "postgresql":
        config = request.getfixturevalue("pg_spool_config")
        with open_queue(config) as opened:
            yield cast(Spool, opened)
        return
    with Spool.open(tmp_path / "spool") as spool:
        yield spool


def _raw_sql(spool: Spool, sql: str) -> None:
    """Run *sql* on the queue's own database (SQLite or PostgreSQL)."""
    if isinstance(spool, Spool):
        spool._db.execute(sql)
        return
    with getattr(spool, "pool").connection() as connection:  # noqa: B009 - PostgresQueue
        connection.execute(sql)


def test_the_database_is_wal_with_full_synchronous_commits(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as spool:
        spool.store("a@example.com", ["b@example.com"], CONTENT, _arrival())
        db = spool._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert (tmp_path / SPOOL_FILENAME).is_file()


def test_a_stored_message_survives_a_process_that_dies_without_closing(tmp_path: Path) -> None:
    # The child stores, prints the id and exits with os._exit: no close, no checkpoint.
    program = (
        "import os, sys; from cdomail.relay.spool import Spool;"
        "from cdomail.relay._model import ArrivalFacts;"
        f"s = Spool.open({str(tmp_path)!r});"
        f"i = s.store('a@example.com', ['b@example.com', 'c@example.com'], {CONTENT!r},"
        " ArrivalFacts('10.0.0.7', 'scanner', None, None, None, 5.0, False));"
        "print(i, flush=True); os._exit(0)")
    child = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           check=True, timeout=60)
    message_id = child.stdout.strip()
    with Spool.open(tmp_path) as spool:
        assert spool.content(message_id) == CONTENT
        detail = spool.show(message_id)
        assert [r.address for r in detail.recipients] == ["b@example.com", "c@example.com"]
        assert detail.arrival.client_address == "10.0.0.7" and detail.arrival.helo == "scanner"
        assert detail.message_id_header == "<abc.123@printer.example>"


def test_a_failed_store_keeps_nothing(spool: Spool) -> None:
    if isinstance(spool, Spool):
        _raw_sql(spool, "CREATE TRIGGER refuse BEFORE INSERT ON recipients WHEN NEW.address ="
                 " 'bad@example.com' BEGIN SELECT RAISE(ABORT, 'no'); END")
    else:
        _raw_sql(spool, "ALTER TABLE recipients ADD CONSTRAINT refuse CHECK (address <>"
                 " 'bad@example.com')")
    with pytest.raises(SpoolError, match="cannot store the message"):
        spool.store("a@example.com", ["ok@example.com", "bad@example.com"], CONTENT, _arrival())
    assert spool.list() == []
    assert spool.counts()["queued"] == 0
    with pytest.raises(SpoolError, match="at least one recipient"):
        spool.store("a@example.com", [], CONTENT, _arrival())


def test_due_returns_pending_recipients_in_order(spool: Spool) -> None:
    first = spool.store("a@example.com", ["x@example.com", "y@example.com"], CONTENT, _arrival())
    second = spool.store("", ["z@example.com"], b"Subject: no id\r\n\r\nx\r\n", _arrival(T0 + 5))
    assert spool.due(T0 - 1, 10) == []
    due = spool.due(T0 + 10, 10)
    assert [m.id for m in due] == [first, second]
    assert due[0].recipients_pending == ("x@example.com", "y@example.com")
    assert due[0].content == CONTENT and due[0].attempts == 0
    assert due[0].message_id_header == "<abc.123@printer.example>"
    assert due[1].sender == "" and due[1].message_id_header is None
    assert [m.id for m in spool.due(T0 + 10, 1)] == [first]


def test_record_attempt_partial_delivery_then_retry(spool: Spool) -> None:
    mid = spool.store("a@example.com", ["x@example.com", "y@example.com"], CONTENT, _arrival())
    spool.record_attempt(mid, _attempt(T0 + 1), {
        "x@example.com": RecipientOutcome("delivered", "250 2.0.0 queued as 1"),
        "y@example.com": RecipientOutcome("queued", "451 4.3.0 try later"),
    }, next_attempt_at=T0 + 60)
    assert spool.due(T0 + 59, 10) == []
    (again,) = spool.due(T0 + 60, 10)
    assert again.recipients_pending == ("y@example.com",) and again.attempts == 1
    spool.record_attempt(mid, _attempt(T0 + 61, reply="550 5.1.1 no such user"), {
        "y@example.com": RecipientOutcome("bounced", "550 5.1.1 no such user")}, None)
    assert spool.due(T0 + 10_000, 10) == []
    detail = spool.show(mid)
    assert [(r.address, r.state, r.reply) for r in detail.recipients] == [
        ("x@example.com", "delivered", "250 2.0.0 queued as 1"),
        ("y@example.com", "bounced", "550 5.1.1 no such user")]
    assert len(detail.attempts) == 2 and detail.attempts[0].cert_verified is True
    assert detail.attempts[1].reply == "550 5.1.1 no such user"
    assert detail.summary.state == "bounced+delivered" and detail.summary.attempts == 2
    assert spool.counts()["delivered"] == 1 and spool.counts()["bounced"] == 1


def test_record_attempts_is_one_commit_for_a_connections_verdicts(spool: Spool) -> None:
    ids = [spool.store("a@example.com", [f"r{n}@example.com"], CONTENT, _arrival())
           for n in range(3)]
    assert len(spool.due(T0 + 1, 10)) == 3  # claimed (PostgreSQL: by this queue)
    spool.mark_sending(ids)
    delivered = RecipientOutcome("delivered", "250 ok")
    # All or nothing: one record the spool refuses (a recipient left queued without a next
    # attempt) leaves every message of the batch unrecorded and still flagged on the wire.
    with pytest.raises(SpoolError, match="no next attempt time"):
        spool.record_attempts([
            AttemptResult(ids[0], _attempt(T0 + 2), {"r0@example.com": delivered}, None),
            AttemptResult(ids[1], _attempt(T0 + 2),
                          {"r1@example.com": RecipientOutcome("queued", "451 later")}, None)])
    assert spool.show(ids[0]).attempts == () and sorted(spool.interrupted_sends()) == sorted(ids)
    spool.delete(ids[1])  # an administrator deleted it while it was on the wire
    gone = spool.record_attempts([
        AttemptResult(ids[0], _attempt(T0 + 2), {"r0@example.com": delivered}, None),
        AttemptResult(ids[1], _attempt(T0 + 2), {"r1@example.com": delivered}, None),
        AttemptResult(ids[2], _attempt(T0 + 2),
                      {"r2@example.com": RecipientOutcome("queued", "451 later")}, T0 + 60)])
    assert gone == [ids[1]]
    assert spool.show(ids[0]).recipients[0].state == "delivered"
    assert spool.show(ids[2]).summary.next_attempt_at == T0 + 60
    assert spool.interrupted_sends() == []  # each record ended its message's flag
    assert spool.record_attempts([]) == []


def test_unknown_status_is_retried_at_least_once_or_final(spool: Spool) -> None:
    retried = spool.store("a@example.com", ["x@example.com"], CONTENT, _arrival())
    final = spool.store("a@example.com", ["y@example.com"], CONTENT, _arrival())
    unknown = {"x@example.com": RecipientOutcome("unknown", "no reply after the final dot")}
    spool.record_attempt(retried, _attempt(T0, error="StatusUnknown"), unknown, T0 + 30)
    spool.record_attempt(final, _attempt(T0, error="StatusUnknown"),
                         {"y@example.com": RecipientOutcome("unknown", None)}, None)
    assert [m.id for m in spool.due(T0 + 30, 10)] == [retried]
    shown = spool.show(retried)
    assert shown.recipients[0].state == "queued"
    assert shown.attempt_outcomes[0]["x@example.com"].state == "unknown"
    assert spool.show(final).recipients[0].state == "unknown"


def test_record_attempt_refuses_to_strand_a_queued_recipient(spool: Spool) -> None:
    mid = spool.store("a@example.com", ["x@example.com"], CONTENT, _arrival())
    with pytest.raises(SpoolError, match="no next attempt time"):
        spool.record_attempt(mid, _attempt(T0), {"x@example.com": RecipientOutcome("queued")},
                             None)
    assert spool.show(mid).attempts == ()  # rolled back
    with pytest.raises(MessageNotFound):
        spool.record_attempt("nope", _attempt(T0), {}, T0)


def test_hold_release_retry_delete(spool: Spool) -> None:
    mid = spool.store("a@example.com", ["x@example.com"], CONTENT, _arrival())
    other = spool.store("a@example.com", ["y@example.com"], CONTENT, _arrival(T0 + 1))
    spool.hold(mid, "looks like spam")
    assert [m.id for m in spool.due(T0 + 5, 10)] == [other]
    assert spool.counts()["held"] == 1 and spool.counts()["queued"] == 1
    assert [s.id for s in spool.list("held")] == [mid]
    assert spool.show(mid).summary.held_reason == "looks like spam"
    assert spool.show(mid).summary.state == "held"
    spool.release(mid)
    assert len(spool.due(T0 + 5, 10)) == 2
    spool.record_attempt(mid, _attempt(T0), {"x@example.com": RecipientOutcome("queued")},
                         T0 + 3600)
    assert [m.id for m in spool.due(T0 + 5, 10)] == [other]
    spool.retry(mid, now=T0 + 5)
    assert len(spool.due(T0 + 5, 10)) == 2
    spool.delete(other)
    assert [s.id for s in spool.list()] == [mid]
    for operation in (spool.delete, spool.release, spool.show, spool.content):
        with pytest.raises(MessageNotFound, match="no message 'gone'"):
            operation("gone")


def test_retry_all_and_queue_wide_hold(spool: Spool) -> None:
    ids = [spool.store("a@example.com", [f"r{n}@example.com"], CONTENT, _arrival()) for n in
           range(3)]
    for mid in ids:
        spool.record_attempt(mid, _attempt(T0), {}, T0 + 3600)
    assert spool.due(T0 + 1, 10) == []
    assert spool.retry_all(now=T0 + 1) == 3
    spool.hold_all("upstream refused our credentials: 535 5.7.3")
    assert spool.queue_hold() == "upstream refused our credentials: 535 5.7.3"
    assert spool.due(T0 + 1, 10) == []
    spool.release_all()
    assert spool.queue_hold() is None
    assert len(spool.due(T0 + 1, 10)) == 3


def test_list_filters_and_counts(spool: Spool) -> None:
    delivered = spool.store("a@example.com", ["x@example.com"], CONTENT, _arrival(T0))
    queued = spool.store("a@example.com", ["y@example.com"], CONTENT, _arrival(T0 + 10))
    spool.record_attempt(delivered, _attempt(T0), {"x@example.com": RecipientOutcome(
        "delivered", "250 ok")}, None)
    assert [s.id for s in spool.list()] == [queued, delivered]  # newest first
    assert [s.id for s in spool.list("delivered")] == [delivered]
    assert [s.id for s in spool.list("queued")] == [queued]
    assert spool.list(limit=1)[0].id == queued
    summary = spool.list("queued")[0]
    assert (summary.sender, summary.recipients, summary.size) == ("a@example.com", 1,
                                                                 len(CONTENT))
    assert spool.counts() == {"queued": 1, "held": 0, "delivered": 1, "bounced": 0,
                              "expired": 0, "unknown": 0}
    assert spool.oldest_queued_age(T0 + 70) == 60.0


def test_health_facts(spool: Spool) -> None:
    assert spool.health() == {}
    spool.set_health("token", '{"ok": false, "error": "invalid_grant"}', now=T0)
    spool.set_health("upstream", '{"ok": true}', now=T0 + 1)
    assert spool.health() == {"token": {"value": {"ok": False, "error": "invalid_grant"},
                                        "updated_at": T0},
                              "upstream": {"value": {"ok": True}, "updated_at": T0 + 1}}
    with pytest.raises(ValueError):
        spool.set_health("bad", "not json")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Spool.open(tmp_path).close()
    with sqlite3.connect(tmp_path / SPOOL_FILENAME) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(SpoolError, match="schema version 99, newer"):
        Spool.open(tmp_path)


def test_readers_in_another_connection_see_committed_messages(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as writer, Spool.open(tmp_path) as reader:
        mid = writer.store("a@example.com", ["x@example.com"], CONTENT, _arrival())
        assert reader.content(mid) == CONTENT


def test_extract_message_id_reads_the_header_only() -> None:
    assert extract_message_id(b"Subject: x\r\nMessage-Id:\r\n <folded@x>\r\n\r\nbody") == \
        "<folded@x>"
    assert extract_message_id(b"Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n") is None
    assert extract_message_id(b"message-id: <lf@x>\nSubject: y\n\nbody") == "<lf@x>"


def test_the_node_registry(spool: Spool) -> None:
    from cdomail.relay.queue import NodeIdentity

    assert spool.nodes() == []
    spool.register_node(NodeIdentity("n1", "relay-host", 4321, T0, "127.0.0.1:2525"))
    assert spool.heartbeat() == 0
    (node,) = spool.nodes()
    assert (node.id, node.host, node.pid, node.started_at, node.listeners, node.alive) == (
        "n1", "relay-host", 4321, T0, "127.0.0.1:2525", True)
    assert "node:n1" not in spool.health()  # nodes are not health facts
    spool.unregister_node()
    assert spool.nodes() == []


def test_a_mark_of_sending_ends_with_the_attempts_record(spool: Spool) -> None:
    from cdomail.relay.queue import NodeIdentity

    spool.register_node(NodeIdentity("n1", "relay-host", 4321, T0))
    on_wire, idle = (spool.store("a@example.com", [f"{n}@example.com"], CONTENT, _arrival())
                     for n in ("x", "y"))
    assert {m.id for m in spool.due(T0 + 1, 10)} == {on_wire, idle}  # claimed by the node
    spool.mark_sending([on_wire])
    # SQLite: the messages on the wire; PostgreSQL: the claims the node holds.
    assert spool.heartbeat() == (1 if isinstance(spool, Spool) else 2)
    # Both: what this node (this spool) left on the wire, for its worker's (re)start.
    assert spool.interrupted_sends() == [on_wire]
    (node,) = spool.nodes()
    assert node.in_flight == spool.heartbeat()
    spool.record_attempt(on_wire, _attempt(T0), {"x@example.com": RecipientOutcome(
        "delivered", "250 ok")}, None)
    assert spool.interrupted_sends() == []
    assert "in_flight" not in spool.health()


def test_a_version_1_spool_keeps_its_in_flight_list_as_flags(tmp_path: Path) -> None:
    with Spool.open(tmp_path) as spool:
        on_wire = spool.store("a@example.com", ["x@example.com"], CONTENT, _arrival())
        spool.store("a@example.com", ["y@example.com"], CONTENT, _arrival())
    # What version 1 wrote: no sending column, the ids on the wire under the health key.
    db = sqlite3.connect(tmp_path / SPOOL_FILENAME, isolation_level=None)
    db.executescript("DROP INDEX messages_sending; ALTER TABLE messages DROP COLUMN sending;"
                     "PRAGMA user_version = 1;")
    db.execute("INSERT INTO health VALUES ('in_flight', ?, 0)",
               (f'{{"ids": ["{on_wire}", "deleted-since"]}}',))
    db.close()
    with Spool.open(tmp_path) as spool:
        assert spool.interrupted_sends() == [on_wire]
        assert "in_flight" not in spool.health()
    with Spool.open(tmp_path) as spool:  # opened again: nothing left to upgrade
        assert spool.interrupted_sends() == [on_wire]
