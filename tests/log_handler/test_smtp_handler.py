"""cdomail.logging.SMTPHandler against the lab: batched, never blocking, flushed on close.

"The caller is not blocked" is shown without timing: the handler's connection goes through
a gate that holds it before the server sees a byte; ``emit`` must return (in another thread,
joined with a generous timeout) while the sender is provably stuck on the network.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import importlib
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cdomail
from cdomail.errors import InputError
from cdomail.lab import Lab, StoredMessage
from cdomail.log_handler import SMTPHandler
from cdomail.testing import LAB_PASSWORD, LAB_USER
from tests._forwarder import forwarder


def lab_options(lab: Lab, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "sender": "app@example.test",
        "recipients": ["ops@example.test"],
        "tls": "starttls",
        "cafile": str(lab.ca_path),
        "username": LAB_USER,
        "password": LAB_PASSWORD,
        "batch_delay": 0.2,
        "flush_timeout": 20.0,
    }
    options.update(extra)
    return options


def parse(stored: StoredMessage) -> email.message.EmailMessage:
    message = email.message_from_bytes(stored.data.replace(b"\r\n", b"\n"),
                                       policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"cdomail-test-{id(object())}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def test_records_arrive_batched_over_one_connection(lab: Lab, logger: logging.Logger) -> None:
    handler = SMTPHandler("localhost", lab.port("starttls-required"), **lab_options(lab))
    logger.addHandler(handler)
    for number in range(5):
        logger.error("disk %d is failing", number)
    handler.flush()
    assert len(lab.messages) == 5
    assert len(lab.sessions) == 1  # one connection, one send_many for the batch
    assert [parse(m)["Subject"] for m in lab.messages] == [
        f"ERROR {logger.name}: disk {n} is failing" for n in range(5)]
    assert all(m.encrypted and m.authenticated_as == LAB_USER for m in lab.messages)
    assert all(r.ok and r.encrypted for r in handler.last_results)


def test_emit_returns_while_the_sender_is_stuck_on_the_network(
    lab: Lab, logger: logging.Logger
) -> None:
    with forwarder(("127.0.0.1", lab.port("starttls")), held=True) as held:
        handler = SMTPHandler("localhost", lab.port("starttls"),
                              connect_to=("127.0.0.1", held.port), **lab_options(lab))
        logger.addHandler(handler)
        logger.critical("first")
        # The sender thread has connected and waits for a greeting that cannot come yet.
        assert held.connected.wait(10)

        def log_more() -> None:
            for n in range(3):
                logger.error("more %d", n)

        caller = threading.Thread(target=log_more)
        caller.start()
        caller.join(10)
        assert not caller.is_alive(), "emit blocked on the network"
        assert lab.sessions == [] and lab.messages == []
        held.opened.set()
        handler.flush()
        assert lab.wait_sessions_closed(10)
    subjects = [parse(m)["Subject"] for m in lab.messages]
    assert subjects == [f"CRITICAL {logger.name}: first",
                        *(f"ERROR {logger.name}: more {n}" for n in range(3))]


def test_over_the_rate_limit_records_are_coalesced(lab: Lab, logger: logging.Logger) -> None:
    handler = SMTPHandler("localhost", lab.port("starttls"),
                          **lab_options(lab, rate_limit=(2, 3600.0)))
    logger.addHandler(handler)
    logger.warning("one")
    logger.info("two")
    logger.error("three")
    logger.info("four")
    handler.flush()
    single, digest = (parse(m) for m in lab.messages)
    assert single["Subject"] == f"WARNING {logger.name}: one"
    assert digest["Subject"] == "3 log records, worst ERROR"
    body = digest.get_content()
    assert body.index("two") < body.index("three") < body.index("four")
    assert "one" not in body


def test_close_delivers_what_waits_for_the_window(lab: Lab, logger: logging.Logger) -> None:
    handler = SMTPHandler("localhost", lab.port("starttls"),
                          **lab_options(lab, rate_limit=(1, 3600.0)))
    logger.addHandler(handler)
    logger.error("spends the only mail of the hour")
    handler.flush()
    logger.error("waits")
    logger.error("waits too")
    logger.removeHandler(handler)
    handler.close()
    assert len(lab.messages) == 2
    last = parse(lab.messages[1])
    assert last["Subject"] == "2 log records, worst ERROR"
    assert "waits too" in last.get_content()


def test_logging_shutdown_at_exit_delivers_everything(lab: Lab) -> None:
    script = textwrap.dedent(f"""
        import logging
        from cdomail.logging import SMTPHandler
        handler = SMTPHandler("localhost", {lab.port("starttls")}, sender="app@example.test",
                              recipients=["ops@example.test"], cafile={str(lab.ca_path)!r},
                              batch_delay=30.0)
        logging.getLogger().addHandler(handler)
        for n in range(3):
            logging.error("at exit %d", n)
        # no flush, no close: the interpreter's exit runs logging.shutdown()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert [parse(m)["Subject"] for m in lab.messages] == [
        f"ERROR root: at exit {n}" for n in range(3)]


def test_failures_never_reach_the_caller_nor_show_the_password(
    lab: Lab, logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "never-print-this-password"
    handler = SMTPHandler("localhost", lab.port("starttls"),
                          **lab_options(lab, password=secret))
    logger.addHandler(handler)
    logger.error("cannot be delivered: the password is wrong")  # must not raise
    handler.flush()
    assert handler.failed == 1
    assert lab.messages == []
    printed = capsys.readouterr().err
    assert "--- Logging error ---" in printed and "AuthenticationFailed" in printed
    assert secret not in printed and secret not in repr(handler)


def test_flush_gives_up_after_flush_timeout(lab: Lab, logger: logging.Logger) -> None:
    with forwarder(("127.0.0.1", lab.port("starttls")), held=True) as held:
        handler = SMTPHandler("localhost", lab.port("starttls"),
                              connect_to=("127.0.0.1", held.port),
                              **lab_options(lab, flush_timeout=0.2))
        logger.addHandler(handler)
        logger.error("cannot get through yet")
        assert held.connected.wait(10)
        closer = threading.Thread(target=handler.close)
        closer.start()
        closer.join(10)
        assert not closer.is_alive(), "close() waited past flush_timeout"
        assert lab.messages == []  # it returned while the server was still out of reach


def test_what_the_sender_thread_logs_is_not_mailed_back(
    lab: Lab, logger: logging.Logger
) -> None:
    # A handleError that logs (a common override) runs in the sender thread: were that
    # record queued, every failure would cause another attempt, and another failure.
    class LoggingHandler(SMTPHandler):
        def handleError(self, record: logging.LogRecord) -> None:
            logger.error("mail failed: %s", record.getMessage())

    handler = LoggingHandler("localhost", lab.port("starttls"),
                             **lab_options(lab, password="wrong"))
    logger.addHandler(handler)
    logger.error("first")
    handler.flush()
    handler.flush()  # a second round would have sent what the first failure logged
    assert handler.failed == 1
    assert len(lab.sessions) == 1 and lab.messages == []


def test_the_sender_outlives_an_error_that_is_not_the_server(
    lab: Lab, logger: logging.Logger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-client-cert.pem"
    handler = SMTPHandler("localhost", lab.port("starttls"),
                          **lab_options(lab, client_cert=str(missing)))
    logger.addHandler(handler)
    logger.error("first")
    handler.flush()
    logger.error("second")
    handler.flush()  # had the thread died, this would return at once and not count
    assert handler.failed == 2
    assert capsys.readouterr().err.count("--- Logging error ---") == 2
    assert lab.messages == []


def test_a_full_queue_drops_and_says_so(lab: Lab, logger: logging.Logger) -> None:
    with forwarder(("127.0.0.1", lab.port("starttls")), held=True) as held:
        handler = SMTPHandler("localhost", lab.port("starttls"), capacity=2,
                              connect_to=("127.0.0.1", held.port), **lab_options(lab))
        logger.addHandler(handler)
        logger.error("taken by the sender")
        assert held.connected.wait(10)  # the sender holds record 0 and is stuck
        for n in range(5):
            logger.error("queued %d", n)  # 2 fit, 3 are dropped; none blocks
        held.opened.set()
        handler.flush()
        assert lab.wait_sessions_closed(10)
    subjects = [parse(m)["Subject"] for m in lab.messages]
    assert subjects == [f"ERROR {logger.name}: taken by the sender",
                        f"ERROR {logger.name}: queued 0", f"ERROR {logger.name}: queued 1",
                        "3 log records dropped (the handler's queue was full)"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"recipients": []}, "recipients"),
        ({"recipients": "ops@example.test"}, "recipients"),
        ({"rate_limit": (0, 60.0)}, "rate_limit"),
        ({"batch_delay": float("nan")}, "batch_delay"),
        ({"tls": "sometimes"}, "sometimes"),
        ({"sender": "App <not an address>"}, "sender"),
        ({"recipients": ["ops@example.test", "bad\nrecipient@example.test"]}, "recipients"),
    ],
)
def test_bad_options_are_refused_at_construction(
    lab: Lab, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InputError, match=problem):
        SMTPHandler("localhost", lab.port("starttls"), **lab_options(lab, **options))
    assert lab.sessions == []


def test_the_module_does_not_shadow_the_standard_library() -> None:
    # (``from cdomail.logging import SMTPHandler`` is what the at-exit test's script runs.)
    assert importlib.import_module("cdomail.logging").SMTPHandler is SMTPHandler
    assert cdomail.logging.SMTPHandler is SMTPHandler
    assert logging.__name__ == "logging" and hasattr(logging, "getLogger")
    assert "cdomail.logging" not in vars(cdomail).get("__all__", [])
