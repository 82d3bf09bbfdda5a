"""cdomail.AsyncPool against the lab and against a server that fails on cue (loopback only)."""

from __future__ import annotations

import asyncio
import io
import socket
import time
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

import cdomail
from cdomail import AsyncPool, SendResult
from cdomail.lab import Lab

from ._fault_server import FaultServer


def make_message(subject: str, to: str = "r@cdomail.test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "sender@cdomail.test"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@cdomail.test>"
    msg.set_content(f"body of {subject}\n")
    return msg


def raw_message(subject: str) -> bytes:
    return (f"From: sender@cdomail.test\r\nTo: r@cdomail.test\r\nSubject: {subject}\r\n\r\n"
            f"body of {subject}\r\n").encode()


def stored_subjects(lab: Lab) -> Counter[str]:
    return Counter(
        str(message_from_bytes(m.data, policy=policy.default)["Subject"]) for m in lab.messages
    )


def lab_pool(lab: Lab, **options: Any) -> AsyncPool:
    options.setdefault("cafile", str(lab.ca_path))
    return AsyncPool("localhost", lab.port("starttls"), **options)


def fault_pool(server: FaultServer, **options: Any) -> AsyncPool:
    options.setdefault("tls", "none")
    return AsyncPool("127.0.0.1", server.port, **options)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# -- the lab: volume, limits, encryption -------------------------------------------------


def test_200_messages_over_4_connections_each_stored_once(lab: Lab) -> None:
    subjects = [f"bulk {i}" for i in range(200)]

    async def main() -> list[SendResult]:
        async with lab_pool(lab, max_connections=4) as pool:
            return await pool.send_many(make_message(s) for s in subjects)

    results = run(main())
    assert [r.recipients for r in results] == [["r@cdomail.test"]] * 200
    assert all(r.ok and r.encrypted for r in results), [r.error for r in results if r.error]
    assert stored_subjects(lab) == Counter(subjects)
    assert all(m.encrypted for m in lab.messages)
    # Each of the 4 connections carried a stream of messages, and there were only 4.
    assert len(lab.sessions) == 4
    per_session = Counter(m.session_id for m in lab.messages)
    assert len(per_session) == 4 and min(per_session.values()) > 1


def test_results_come_back_in_input_order(lab: Lab) -> None:
    subjects = [f"order {i}" for i in range(30)]

    async def main() -> list[SendResult]:
        async with AsyncPool("127.0.0.1", lab.port("plain"), tls="none", max_connections=3) as pool:
            return await pool.send_many([raw_message(s) for s in subjects])

    results = run(main())
    assert all(r.ok and not r.encrypted for r in results)
    by_queue_id = {m.maildir_key: m for m in lab.messages}
    for subject, result in zip(subjects, results, strict=True):
        assert result.reply is not None
        stored = [k for k in by_queue_id if k in result.reply.text]
        assert len(stored) == 1, result.reply
        assert f"Subject: {subject}\r\n".encode() in by_queue_id[stored[0]].data


def test_max_connections_is_never_exceeded() -> None:
    async def main() -> FaultServer:
        async with FaultServer() as server:
            async with fault_pool(server, max_connections=3) as pool:
                # Many independent callers at once: they still share 3 connections.
                results = await asyncio.gather(
                    *(pool.send(raw_message(f"c {i}")) for i in range(60)))
            assert all(r.ok for r in results)
        return server

    server = run(main())
    assert server.sessions == 3 and server.peak == 3
    assert Counter(s for _, s in server.stored) == Counter(f"c {i}" for i in range(60))


def test_sequential_sends_reuse_one_connection() -> None:
    async def main() -> FaultServer:
        async with FaultServer() as server:
            async with fault_pool(server, max_connections=8) as pool:
                for i in range(5):
                    await pool.send(raw_message(f"seq {i}"))
            assert server.quits == 1
        return server

    assert run(main()).sessions == 1


def test_messages_per_connection_quits_and_reconnects(lab: Lab) -> None:
    subjects = [f"mpc {i}" for i in range(20)]

    async def main() -> list[SendResult]:
        async with lab_pool(lab, max_connections=2, messages_per_connection=3) as pool:
            return await pool.send_many(make_message(s) for s in subjects)

    results = run(main())
    assert all(r.ok for r in results)
    assert stored_subjects(lab) == Counter(subjects)
    per_session = Counter(m.session_id for m in lab.messages)
    assert max(per_session.values()) <= 3
    assert len(lab.sessions) >= 7
    for session in lab.sessions:  # each one ended politely, with QUIT
        assert any(line.line == b"QUIT" for line in session.lines("C")), session.id


def test_messages_per_connection_counts_across_calls() -> None:
    async def main() -> FaultServer:
        async with FaultServer() as server:
            async with fault_pool(server, max_connections=1, messages_per_connection=3) as pool:
                await pool.send(raw_message("first"))
                results = await pool.send_many(raw_message(f"then {i}") for i in range(5))
                assert all(r.ok for r in results)
            assert server.quits == server.sessions
        return server

    server = run(main())
    assert Counter(session for session, _ in server.stored) == {1: 3, 2: 3}


def test_rate_limit_spaces_messages_across_the_pool() -> None:
    async def main() -> tuple[float, list[SendResult], FaultServer]:
        async with (
            FaultServer() as server,
            fault_pool(server, max_connections=4, rate_limit=50) as pool,
        ):
            start = time.monotonic()
            results = await pool.send_many(raw_message(f"rate {i}") for i in range(20))
            elapsed = time.monotonic() - start
        return elapsed, results, server

    elapsed, results, server = run(main())
    assert all(r.ok for r in results)
    assert len(server.stored) == 20
    # 20 messages at 50/s: the last may start 19 intervals (0.38 s) after the first.
    assert elapsed >= 0.35


def test_send_raises_bad_input_before_connecting() -> None:
    async def main() -> tuple[list[SendResult], FaultServer]:
        async with FaultServer() as server, fault_pool(server) as pool:
            with pytest.raises(cdomail.InputError) as error:
                await pool.send(raw_message("x"), recipients=["bad\r\nRCPT TO:<x@y>"])
            assert error.value.field == "recipient"
            assert server.sessions == 0
            results = await pool.send_many([b"no headers at all\r\n", raw_message("good")])
        return results, server

    results, server = run(main())
    assert isinstance(results[0].error, cdomail.InputError) and results[1].ok
    assert server.received == ["good"]


def test_envelope_overrides_reach_the_server(lab: Lab) -> None:
    async def main() -> SendResult:
        async with lab_pool(lab) as pool:
            result: SendResult = await pool.send(
                make_message("env"), sender="bounce@cdomail.test",
                recipients=["x@cdomail.test", "y@cdomail.test"])
            return result

    result = run(main())
    assert result.ok and sorted(result.accepted) == ["x@cdomail.test", "y@cdomail.test"]
    [stored] = lab.messages
    assert stored.mail_from == "bounce@cdomail.test"
    assert stored.rcpt_tos == ["x@cdomail.test", "y@cdomail.test"]


def test_send_many_takes_per_message_envelopes(lab: Lab) -> None:
    items = [
        cdomail.OutgoingMessage(make_message(f"env {i}"), sender=f"bounce{i}@cdomail.test",
                                recipients=[f"x{i}@cdomail.test"])
        for i in range(10)
    ]
    items.insert(3, cdomail.OutgoingMessage(raw_message("bad"), sender="bad address"))

    async def main() -> list[SendResult]:
        async with lab_pool(lab, max_connections=2) as pool:
            results: list[SendResult] = await pool.send_many(items)
            return results

    results = run(main())
    assert [r.ok for r in results] == [True] * 3 + [False] + [True] * 7
    assert isinstance(results[3].error, cdomail.InputError)
    envelopes = sorted((m.mail_from, tuple(m.rcpt_tos)) for m in lab.messages)
    assert envelopes == sorted(
        (f"bounce{i}@cdomail.test", (f"x{i}@cdomail.test",)) for i in range(10)
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [({"max_connections": 0}, "max_connections"), ({"retries": -1}, "retries"),
     ({"messages_per_connection": True}, "messages_per_connection"),
     ({"rate_limit": 0}, "rate_limit"), ({"rate_limit": float("nan")}, "rate_limit"),
     ({"tls": "sendtls"}, "tls")],
)
def test_bad_settings_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(cdomail.ConfigurationError) as error:
        AsyncPool("127.0.0.1", 2525, **options)
    assert error.value.field == field


# -- failures: reconnect, retry only what was certainly not accepted -------------------


@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
def test_421_after_third_message_of_each_session_delivers_each_exactly_once(
    chunking: bool,
) -> None:
    subjects = [f"limited {i}" for i in range(20)]

    async def main() -> tuple[list[SendResult], FaultServer]:
        async with (
            FaultServer(close_after=3, chunking=chunking) as server,
            fault_pool(server, max_connections=2) as pool,
        ):
            results = await pool.send_many(raw_message(s) for s in subjects)
        return results, server

    results, server = run(main())
    assert all(r.ok for r in results), [r.error for r in results if r.error]
    assert {r.content_command for r in results} == {"BDAT" if chunking else "DATA"}
    assert Counter(s for _, s in server.stored) == Counter(subjects)
    assert Counter(server.received) == Counter(subjects)  # no content was stored twice
    assert all(n <= 3 for n in Counter(session for session, _ in server.stored).values())


def test_after_421_messages_whose_chunks_were_already_sent_are_resent() -> None:
    # Once the connection has proven BDAT works, the client pipelines whole
    # transactions: the 421 to one MAIL arrives after later messages' chunks were
    # written. The server processes nothing after its 421 (RFC 5321 §3.8), so they
    # were certainly not accepted and are sent again.
    subjects = [f"window {i}" for i in range(11)]

    async def main() -> tuple[list[SendResult], FaultServer]:
        async with (
            FaultServer(close_after=4, chunking=True) as server,
            fault_pool(server, max_connections=1) as pool,
        ):
            first = await pool.send(raw_message(subjects[0]))
            results = [first, *await pool.send_many(raw_message(s) for s in subjects[1:])]
        return results, server

    results, server = run(main())
    assert all(r.ok and r.content_command == "BDAT" for r in results)
    assert Counter(s for _, s in server.stored) == Counter(subjects)
    assert Counter(session for session, _ in server.stored) == {1: 4, 2: 4, 3: 3}


def test_after_a_reset_pipelined_messages_are_reported_unknown_not_resent() -> None:
    # The same server closing at once: the client's pending writes meet a reset and
    # it never reads the replies. Messages whose chunks went out are then unknown.
    subjects = [f"reset {i}" for i in range(11)]

    async def main() -> tuple[list[SendResult], FaultServer]:
        async with (
            FaultServer(close_after=4, chunking=True, abrupt=True) as server,
            fault_pool(server, max_connections=1) as pool,
        ):
            first = await pool.send(raw_message(subjects[0]))
            results = [first, *await pool.send_many(raw_message(s) for s in subjects[1:])]
        return results, server

    results, server = run(main())
    stored = Counter(s for _, s in server.stored)
    assert max(stored.values()) == 1
    assert all(r.ok or isinstance(r.error, cdomail.StatusUnknown) for r in results)
    delivered = {s for s, r in zip(subjects, results, strict=True) if r.ok}
    assert delivered <= set(stored)  # every "ok" really is stored, once


def test_one_shot_streams_are_retried_when_their_body_was_never_read() -> None:
    subjects = [f"stream {i}" for i in range(10)]

    async def main() -> tuple[list[SendResult], FaultServer]:
        async with (
            FaultServer(close_after=3) as server,
            fault_pool(server, max_connections=1) as pool,
        ):
            inputs: list[Any] = [io.BytesIO(raw_message(s)) for s in subjects[:5]]
            inputs += [iter([raw_message(s)[:20], raw_message(s)[20:]])
                       for s in subjects[5:]]
            results = await pool.send_many(inputs)
        return results, server

    results, server = run(main())
    assert all(r.ok for r in results), [r.error for r in results if r.error]
    assert Counter(server.received) == Counter(subjects)


def test_retries_are_bounded() -> None:
    async def main() -> FaultServer:
        async with FaultServer(close_after=0) as server, fault_pool(server, retries=2) as pool:
            with pytest.raises(cdomail.ServiceClosing):
                await pool.send(raw_message("never"))
        return server

    server = run(main())
    assert server.sessions == 3 and server.received == []


@pytest.mark.parametrize("where", ["at the 4th MAIL", "after the 3rd message's content"])
def test_dropped_connection_mid_batch_no_duplicates(where: str) -> None:
    subjects = [f"drop {i}" for i in range(12)]

    def on_mail(session: int, mail: int) -> str | None:
        return "drop" if where == "at the 4th MAIL" and session == 1 and mail == 4 else None

    def on_dot(session: int, message: int, subject: str) -> str | None:
        dropping = where != "at the 4th MAIL" and session == 1 and message == 3
        return "drop" if dropping else None

    async def main() -> tuple[list[SendResult], FaultServer]:
        async with (
            FaultServer(on_mail=on_mail, on_dot=on_dot) as server,
            fault_pool(server, max_connections=1) as pool,
        ):
            results = await pool.send_many(raw_message(s) for s in subjects)
        return results, server

    results, server = run(main())
    stored = Counter(s for _, s in server.stored)
    assert max(stored.values()) == 1  # nothing stored twice
    assert Counter(server.received) == stored  # no content sent twice
    delivered = {s for s, r in zip(subjects, results, strict=True) if r.ok}
    unknown = {s for s, r in zip(subjects, results, strict=True)
               if isinstance(r.error, cdomail.StatusUnknown)}
    assert all(r.ok or isinstance(r.error, cdomail.StatusUnknown) for r in results)
    if where == "at the 4th MAIL":
        assert unknown == set() and delivered == set(subjects) == set(stored)
    else:
        # The 3rd message was stored, but its verdict never came: reported, not resent.
        assert unknown == {"drop 2"}
        assert delivered == set(subjects) - unknown and set(stored) == set(subjects)


def test_status_unknown_is_never_retried() -> None:
    subjects = [f"silent {i}" for i in range(6)]

    def on_dot(session: int, message: int, subject: str) -> str | None:
        return "silent" if session == 1 and message == 3 else None

    async def main() -> tuple[list[SendResult], FaultServer]:
        async with (
            FaultServer(on_dot=on_dot) as server,
            fault_pool(server, max_connections=1, retries=3, command_timeout=0.3) as pool,
        ):
            results = await pool.send_many(raw_message(s) for s in subjects)
        return results, server

    results, server = run(main())
    assert isinstance(results[2].error, cdomail.StatusUnknown)
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert Counter(server.received) == Counter(subjects)  # "silent 2" arrived once only


def test_transient_refusal_of_the_content_is_retried_for_bytes_not_for_streams() -> None:
    refused_once: set[str] = set()

    def on_dot(session: int, message: int, subject: str) -> bytes | None:
        if subject in refused_once:
            return None
        refused_once.add(subject)
        return b"451 4.3.0 try again later"

    async def main() -> tuple[list[SendResult], FaultServer]:
        async with (
            FaultServer(on_dot=on_dot) as server,
            fault_pool(server, max_connections=1) as pool,
        ):
            results = await pool.send_many(
                [raw_message("as bytes"), make_message("as email"),
                 io.BytesIO(raw_message("as file"))])
        return results, server

    results, server = run(main())
    assert results[0].ok and results[1].ok
    # The file's body was read by the first attempt: it is reported, not buffered and resent.
    assert isinstance(results[2].error, cdomail.DataRefused) and results[2].error.code == 451
    assert Counter(s for _, s in server.stored) == Counter(["as bytes", "as email"])
    assert Counter(server.received) == Counter(
        ["as bytes", "as bytes", "as email", "as email", "as file"])


def test_permanent_refusal_is_not_retried() -> None:
    async def main() -> FaultServer:
        async with (
            FaultServer(on_dot=lambda *_: b"554 5.7.1 rejected") as server,
            fault_pool(server) as pool,
        ):
            with pytest.raises(cdomail.DataRefused) as error:
                await pool.send(raw_message("spam"))
            assert error.value.code == 554
        return server

    assert run(main()).received == ["spam"]


def test_closed_pool_refuses_work() -> None:
    async def main() -> None:
        pool = AsyncPool("127.0.0.1", 2525, tls="none")
        await pool.aclose()
        with pytest.raises(cdomail.ProtocolError):
            await pool.send(raw_message("late"))

    run(main())


def test_unreachable_server_is_retried_then_reported() -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> list[SendResult]:
        async with AsyncPool("127.0.0.1", port, tls="none", retries=1) as pool:
            return await pool.send_many([raw_message("a"), raw_message("b")])

    results = run(main())
    assert all(isinstance(r.error, cdomail.ConnectError) for r in results)
    assert [r.recipients for r in results] == [["r@cdomail.test"]] * 2


def test_a_permanent_connection_failure_is_not_retried() -> None:
    async def main() -> FaultServer:
        async with FaultServer() as server:
            async with fault_pool(server, tls="starttls", retries=3) as pool:
                with pytest.raises(cdomail.TLSRequired):
                    await pool.send(raw_message("needs tls"))
            assert server.received == []
        return server

    assert run(main()).sessions == 1


def test_a_pool_stays_on_its_event_loop() -> None:
    pool = AsyncPool("127.0.0.1", 2525, tls="none")

    async def first() -> None:
        await pool.__aenter__()

    async def second() -> None:
        with pytest.raises(cdomail.ProtocolError, match="event loop"):
            await pool.send(raw_message("elsewhere"))

    run(first())
    run(second())
