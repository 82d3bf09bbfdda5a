"""Relay nodes as `cdomail relay run` processes sharing one PostgreSQL queue, for the tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from cdomail.lab import Lab
from tests._forwarder import ForwardedConnection, Forwarder
from tests.relay._relay import RelayProcess

MAILBOX = "sender@contoso.test"
#: The door (``tests/_forwarder.py``) notes a connection's end when the relay's close
#: reaches it, which can come a moment after the relay released its cluster slot and another
#: node opened a connection: overlaps shorter than this are that observation delay, not a
#: second connection in use.
CLOSE_OBSERVATION_SLACK = 0.05
#: How long an upstream session may stay open once the queue has drained (the worker closes
#: its connections when a pass ends; this is only the slack of a loaded machine).
DRAINED_CLOSE_WAIT = 30.0


def node_config(path: Path, *, url: str, port: int, lab: Lab, door: Forwarder | None = None,
                token_url: str | None = None, delivery: str = "", lease: str = "2s") -> Path:
    """A relay.toml for one node: its own listener, the shared queue, the lab upstream
    (through *door* when given: the door forwards to the lab's implicit-TLS port)."""
    host, upstream_port = (lab.host, lab.port("smtps")) if door is None else (door.host,
                                                                            door.port)
    auth = ""
    if token_url is not None:
        auth = (f'auth = "xoauth2"\nusername = "{MAILBOX}"\n\n[upstream.oauth2]\n'
                f'token_url = "{token_url}"\nclient_id = "relay-app"\n'
                f'client_secret = "env:CLIENT_SECRET"\ncafile = "{lab.ca_path}"\n')
    path.write_text(f"""
[[listen]]
address = "127.0.0.1:{port}"

[spool]
url = "{url}"
lease = "{lease}"

[delivery]
retry = ["1s"]
max_age = "1h"
{delivery}

[upstream]
host = "{host}"
port = {upstream_port}
tls = "implicit"
cafile = "{lab.ca_path}"
{auth}
""")
    return path


def start_node(config: Path) -> RelayProcess:
    return RelayProcess(config)


def status_json(config: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "cdomail", "relay", "status", "--config",
                           str(config), "--json"], capture_output=True, text=True, timeout=60,
                          check=True)
    document: dict[str, object] = json.loads(done.stdout)
    return document


def wait_for(condition: object, timeout: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def peak_sessions(sessions: list[ForwardedConnection], now: float) -> int:
    """The most upstream connections open at one moment, from the door's open/close times.

    Each session counts from its opening to its observed close less the observation slack
    (never before its own opening: a session shorter than the slack still counts at its
    opening), so the peak is at least 1 whenever there was a session. A session still open
    counts until *now*.
    """
    spans = [(session.opened_at,
              max(session.opened_at, (now if session.closed_at is None else session.closed_at)
                  - CLOSE_OBSERVATION_SLACK))
             for session in sessions]
    return max((1 + sum(1 for other, (opened, closed) in enumerate(spans)
                        if other != index and opened <= start < closed)
                for index, (start, _) in enumerate(spans)), default=0)
