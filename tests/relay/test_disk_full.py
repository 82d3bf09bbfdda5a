"""A full disk: the relay answers 452 and keeps every message it accepted before.

The spool lives on a 1 MB tmpfs mounted in the relay's own mount namespace (``unshare -m``),
so the test fills a real file system without touching the machine's. It needs root;
test_listener.py also covers the same answer with SQLite's own size cap, without root.

SQLite only: the spool file on a tmpfs of its own; a full PostgreSQL disk (SQLSTATE 53100)
is the database server's, not the relay's.
"""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
from pathlib import Path

from ..interop._programs import require_program, require_root
from ._relay import RelayProcess, relay_toml

_DUMP = """
import json, re, sys
from cdomail.relay.spool import Spool
with Spool.open(sys.argv[1]) as spool:
    found = {}
    for summary in spool.list(limit=100000):
        content = spool.content(summary.id)
        number = re.search(rb"<full-(\\d+)@", content).group(1).decode()
        found.setdefault(number, []).append(content.decode("latin-1"))
print(json.dumps(found))
"""


def _message(number: int) -> bytes:
    filler = b"".join(b"%06d %s\r\n" % (line, b"y" * 70) for line in range(700))  # ~55 KB
    return b"Message-ID: <full-%d@test.example>\r\nSubject: fill\r\n\r\n%s" % (number, filler)


def test_a_full_tmpfs_answers_452_and_keeps_earlier_mail(tmp_path: Path) -> None:
    require_root("mounting a size-limited tmpfs in a private mount namespace")
    unshare = require_program("unshare")
    nsenter = require_program("nsenter")
    spool = tmp_path / "spool"
    spool.mkdir()
    config = tmp_path / "relay.toml"
    config.write_text(relay_toml(spool, 'address = "127.0.0.1:0"'))
    prefix = (unshare, "-m", "--propagation", "private", "sh", "-c",
              f'mount -t tmpfs -o size=1m tmpfs "{spool}" && exec "$@"', "sh")
    relay = RelayProcess(config, prefix=prefix)
    accepted: list[int] = []
    try:
        full_reply = None
        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            for number in range(100):
                try:
                    client.sendmail("a@corp.example", ["b@x.example"], _message(number))
                except smtplib.SMTPDataError as refused:
                    full_reply = (refused.smtp_code, refused.smtp_error)
                    break
                accepted.append(number)
        assert full_reply is not None, "the 1 MB file system never filled up"
        assert full_reply[0] == 452 and b"Insufficient system storage" in full_reply[1]
        assert len(accepted) >= 3
        dump = subprocess.run(
            [nsenter, "-t", str(relay.process.pid), "-m", sys.executable, "-c", _DUMP,
             str(spool)], capture_output=True, text=True, check=True, timeout=60,
            env={**os.environ})
        stored = json.loads(dump.stdout)
        assert relay.terminate() == 0
    finally:
        relay.close()
    assert sorted(int(n) for n in stored) == accepted  # the refused one left no trace
    for number in accepted:
        [content] = stored[str(number)]
        assert content.encode("latin-1").endswith(_message(number))
    assert os.listdir(spool) == []  # the tmpfs was the relay's own: nothing leaked out here
