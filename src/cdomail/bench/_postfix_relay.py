"""A private, throw-away Postfix configured as a relay: its smtpd, its queue, its smtp client.

The relay benchmark's peer: ``smtp-source`` -> this Postfix (``smtpd`` -> ``cleanup`` ->
queue -> ``qmgr`` -> ``smtp``) -> ``smtp-sink``, with Postfix's own durability (queue files
fsync'd before the 250). Everything lives in one temporary folder, ``master -d`` runs as our
child, nothing binds outside 127.0.0.1 and no file of a system Postfix is read or changed.
Needs root (Postfix's daemons switch to the ``postfix`` user).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cdomail.bench._sink import find_postfix_tool

__all__ = ["PostfixRelay", "postfix_relay"]

_SERVICES = """\
cleanup   unix  n  -  n  -    0  cleanup
qmgr      unix  n  -  n  300  1  qmgr
rewrite   unix  -  -  n  -    -  trivial-rewrite
bounce    unix  -  -  n  -    0  bounce
defer     unix  -  -  n  -    0  bounce
trace     unix  -  -  n  -    0  bounce
verify    unix  -  -  n  -    1  verify
flush     unix  n  -  n  1000? 0 flush
proxymap  unix  -  -  n  -    -  proxymap
smtp      unix  -  -  n  -    -  smtp
relay     unix  -  -  n  -    -  smtp
showq     unix  n  -  n  -    -  showq
error     unix  -  -  n  -    -  error
retry     unix  -  -  n  -    -  error
discard   unix  -  -  n  -    -  discard
anvil     unix  -  -  n  -    1  anvil
scache    unix  -  -  n  -    1  scache
postlog   unix-dgram n - n - 1  postlogd
"""

# "status=sent" lines carry "delay=<arrival to delivery, seconds>" (postconf(5), delay_logging).
_SENT_DELAY = re.compile(r"delay=([\d.]+),.*status=sent")


@dataclass
class PostfixRelay:
    """A running private Postfix relay: send to ``host:port``, it relays to the upstream."""

    root: Path
    host: str
    port: int

    def delivery_delays(self) -> list[float]:
        """Seconds from arrival to upstream delivery of every message relayed so far."""
        try:
            log = (self.root / "maillog").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [float(match) for match in _SENT_DELAY.findall(log)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _main_cf(root: Path, upstream: tuple[str, int], concurrency: int) -> str:
    settings = {
        "compatibility_level": "3.6",
        "config_directory": root / "conf",
        "queue_directory": root / "queue",
        "data_directory": root / "data",
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        "maillog_file": root / "maillog",
        "maillog_file_prefixes": root,
        "inet_interfaces": "127.0.0.1",
        "inet_protocols": "ipv4",
        "myhostname": "postfix-relay.bench.localhost",
        "mydestination": "",
        "mynetworks": "127.0.0.0/8",
        "local_recipient_maps": "",
        "alias_maps": "",
        "alias_database": "",
        # Everything goes to the one upstream, brackets: no MX lookup (postconf(5) relayhost).
        "relayhost": f"[{upstream[0]}]:{upstream[1]}",
        "smtp_tls_security_level": "none",
        "smtpd_peername_lookup": "no",
        "smtp_host_lookup": "native",
        "default_destination_concurrency_limit": str(concurrency),
        "smtp_destination_concurrency_limit": str(concurrency),
        "relay_destination_concurrency_limit": str(concurrency),
        "biff": "no",
        "message_size_limit": "50000000",
    }
    return "".join(f"{name} = {value}\n" for name, value in settings.items())


def _wait_listening(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (root / "master.out").read_text(errors="replace")
            raise RuntimeError(f"Postfix master exited {process.returncode}: {output}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError("the private Postfix relay did not listen within 20 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # master(8) stops its children and exits
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _prepare(root: Path, upstream: tuple[str, int], concurrency: int) -> tuple[Path, int]:
    conf = root / "conf"
    conf.mkdir()
    (root / "queue").mkdir()
    postfix_user = pwd.getpwnam("postfix")
    (root / "data").mkdir()
    os.chown(root / "data", postfix_user.pw_uid, postfix_user.pw_gid)
    (conf / "main.cf").write_text(_main_cf(root, upstream, concurrency))
    port = _free_port()
    (conf / "master.cf").write_text(f"127.0.0.1:{port} inet n - n - - smtpd\n" + _SERVICES)
    return conf, port


@contextlib.contextmanager
def postfix_relay(upstream: tuple[str, int], *, concurrency: int = 4) -> Iterator[PostfixRelay]:
    """Configure and start a Postfix relaying everything to ``upstream``; stop and delete it.

    Raises:
        PostfixToolMissing: Postfix is not installed.
        RuntimeError: not root, or Postfix would not start.
    """
    postfix = find_postfix_tool("postfix")
    if os.geteuid() != 0:
        raise RuntimeError("the Postfix relay peer needs root (its daemons switch users)")
    # Not a 0700 folder: the unprivileged daemons must traverse it.
    root = Path(tempfile.mkdtemp(prefix="cdomail-bench-postfix-"))
    root.chmod(0o755)
    process: subprocess.Popen[bytes] | None = None
    try:
        conf, port = _prepare(root, upstream, concurrency)
        # `postfix check` creates the queue folders with their owners and modes.
        subprocess.run([postfix, "-c", str(conf), "check"], check=True, capture_output=True,
                       timeout=60)
        daemon_directory = subprocess.run(
            [str(Path(postfix).with_name("postconf")), "-c", str(conf), "-h",
             "daemon_directory"], capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()
        with (root / "master.out").open("wb") as output:
            process = subprocess.Popen([str(Path(daemon_directory) / "master"), "-d", "-c",
                                        str(conf)], stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT)
        _wait_listening(port, process, root)
        yield PostfixRelay(root=root, host="127.0.0.1", port=port)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)



