"""`cdomail relay` commands: run (SIGTERM exits 0 promptly), status, list, show, retry, hold,
release, delete — against a real spool."""

from __future__ import annotations

import json
import smtplib
import socket
import time
from pathlib import Path

import pytest

from cdomail.cli import main
from cdomail.relay._model import ArrivalFacts, AttemptRecord, RecipientOutcome
from cdomail.relay.config import SpoolConfig
from cdomail.relay.queue import open_queue

from ._relay import RelayProcess, relay_toml

CONTENT = b"Message-ID: <m1@corp.example>\r\nSubject: hi\r\n\r\nbody\r\n"


@pytest.fixture
def config(backend: SpoolConfig, tmp_path: Path) -> Path:
    """A relay.toml naming the test's queue: a SQLite spool, then a PostgreSQL database."""
    path = tmp_path / "relay.toml"
    path.write_text(relay_toml(backend, 'address = "127.0.0.1:0"'))
    return path


def _store(backend: SpoolConfig, sender: str = "a@corp.example", helo: str = "box") -> str:
    with open_queue(backend) as spool:
        return spool.store(sender, ["b@x.example"], CONTENT,
                           ArrivalFacts("127.0.0.1", helo, None, None, None, time.time(), False))


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_status_list_show_as_json(config: Path, backend: SpoolConfig,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    message_id = _store(backend)
    with open_queue(backend) as spool:
        spool.set_health("upstream", '{"ok": false, "last_error": "421 busy"}')
    status = _json(capsys, "relay", "status", "--config", str(config), "--json")
    assert isinstance(status, dict)
    assert status["counts"]["queued"] == 1 and status["queue_hold"] is None
    assert status["health"]["upstream"]["value"]["last_error"] == "421 busy"
    assert 0 <= status["oldest_queued_age_seconds"] < 60
    listed = _json(capsys, "relay", "list", "--config", str(config), "--json", "--state",
                   "queued")
    assert isinstance(listed, list)
    assert [m["id"] for m in listed] == [message_id]
    shown = _json(capsys, "relay", "show", "--config", str(config), message_id, "--json")
    assert isinstance(shown, dict)
    assert shown["message_id_header"] == "<m1@corp.example>"
    assert shown["recipients"][0]["address"] == "b@x.example"
    assert shown["arrival"]["helo"] == "box"


def test_show_in_words_escapes_sender_controlled_text(config: Path, backend: SpoolConfig,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    message_id = _store(backend, helo="evil\x1b[2Jbox")
    with open_queue(backend) as spool:
        spool.record_attempt(message_id, AttemptRecord(
            time.time(), time.time(), "smtp.example:587", "TLSv1.3", "X", True,
            "451 4.3.0 \x1b[31mred", None), {"b@x.example": RecipientOutcome("queued",
                                                                            "451 4.3.0 later")},
            time.time() + 60)
    assert main(["relay", "show", "--config", str(config), message_id]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "HELO evil" in out and "certificate verified" in out and "451 4.3.0 later" in out


def test_hold_release_retry_delete(config: Path, backend: SpoolConfig,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    message_id = _store(backend)
    base = ["--config", str(config)]
    assert main(["relay", "hold", *base, message_id, "--reason", "check with sales"]) == 0
    listed = _json(capsys, "relay", "list", *base, "--json", "--state", "held")
    assert listed[0]["held_reason"] == "check with sales"  # type: ignore[index]
    assert main(["relay", "release", *base, message_id]) == 0
    assert main(["relay", "hold", *base, "--all", "--reason", "token rejected"]) == 0
    assert _json(capsys, "relay", "status", *base, "--json")["queue_hold"] == (  # type: ignore[index]
        "token rejected")
    assert main(["relay", "release", *base, "--all"]) == 0
    assert main(["relay", "retry", *base, "--all"]) == 0
    assert main(["relay", "retry", *base, message_id]) == 0
    assert main(["relay", "delete", *base, message_id]) == 0
    assert _json(capsys, "relay", "list", *base, "--json") == []
    assert main(["relay", "show", *base, message_id]) == 1
    assert f"no message '{message_id}'" in capsys.readouterr().err


# SQLite only: a spool directory that does not exist yet; a PostgreSQL database that is not
# there is a connection error, covered in tests/relay_pg/test_connection.py.
def test_admin_commands_say_when_there_is_no_spool(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "relay.toml"
    config.write_text(relay_toml(tmp_path / "spool", 'address = "127.0.0.1:0"'))
    assert main(["relay", "status", "--config", str(config)]) == 1
    assert "no spool at" in capsys.readouterr().err


def test_a_bad_config_exits_2_with_the_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(relay_toml(tmp_path, 'address = "127.0.0.1:0"\nmax_message_size = "huge"'))
    assert main(["relay", "run", "--config", str(path)]) == 2
    assert f"{path}:3: [listen] max_message_size" in capsys.readouterr().err


def test_run_stores_mail_and_sigterm_exits_0_promptly(config: Path,
                                                      backend: SpoolConfig) -> None:
    relay = RelayProcess(config)
    try:
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            client.sendmail("a@corp.example", ["b@x.example"], CONTENT)
        idle = socket.create_connection(("127.0.0.1", relay.port))  # a sender that lingers
        idle.recv(100)
        started = time.monotonic()
        assert relay.terminate(timeout=15) == 0, "".join(relay.log)
        assert time.monotonic() - started < 8  # generous: the machine may be busy
        idle.close()
    finally:
        relay.close()
    with open_queue(backend) as spool:
        assert len(spool.list()) == 1


def test_check_refuses_an_invalid_file_with_its_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(relay_toml(tmp_path, 'address = "127.0.0.1:0"').replace(
        'tls = "starttls"', 'tls = "none"'))
    assert main(["relay", "check", "--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert "[upstream] tls" in error and "allow_plaintext" in error
    assert f"{path}:" in error
