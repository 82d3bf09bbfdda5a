"""A private, throw-away Postfix: its own folder, ``master -d`` as our child, loopback only.

Two callers configure one: the interop tests (a Postfix that delivers into a Maildir, with
TLS and SASL listeners) and the relay benchmark (a Postfix that relays to ``smtp-sink``).
What every private instance needs is here, once:

- one temporary folder holds ``conf/``, ``queue/``, ``data/``, ``maillog`` (postlogd(8)
  writes there: a sandbox has no syslog) and what ``master`` printed; it is deleted on exit;
- ``main.cf``: the settings that keep the instance private (no file of a system Postfix is
  read for a setting we rely on, nothing binds outside 127.0.0.1, no DNS or peer-name
  lookup), under the caller's own;
- ``master.cf``: one loopback ``smtpd`` per listener with the caller's ``-o`` options, the
  daemons of a minimal instance and the caller's extra ones;
- ``postfix check`` (it creates the queue folders with their owners and modes), then
  ``master -d`` on ports borrowed from the kernel, retried when another program takes one
  first (Postfix cannot listen on port 0 and report the port), and SIGTERM on exit.

Needs root: Postfix's daemons switch to the ``postfix`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from cdomail.testing.ports import free_ports

__all__ = ["PostfixError", "private_folder", "read_maillog", "running_master"]

#: master.cf lines of the daemons every private instance needs: queue manager, cleanup,
#: address rewriting, bounces, the error transport, connection caches and the log daemon.
_BASE_SERVICES = """\
cleanup   unix  n  -  n  -    0  cleanup
qmgr      unix  n  -  n  300  1  qmgr
rewrite   unix  -  -  n  -    -  trivial-rewrite
bounce    unix  -  -  n  -    0  bounce
defer     unix  -  -  n  -    0  bounce
trace     unix  -  -  n  -    0  bounce
verify    unix  -  -  n  -    1  verify
flush     unix  n  -  n  1000? 0 flush
proxymap  unix  -  -  n  -    -  proxymap
showq     unix  n  -  n  -    -  showq
error     unix  -  -  n  -    -  error
retry     unix  -  -  n  -    -  error
discard   unix  -  -  n  -    -  discard
anvil     unix  -  -  n  -    1  anvil
scache    unix  -  -  n  -    1  scache
postlog   unix-dgram n - n - 1  postlogd
"""

_START_ATTEMPTS = 3
_LISTEN_TIMEOUT = 20.0


class PostfixError(RuntimeError):
    """The private Postfix instance could not be configured or started."""


def _private_settings(root: Path) -> dict[str, object]:
    """The main.cf settings that keep an instance in ``root`` and on loopback."""
    return {
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
        "mydestination": "",
        "mynetworks": "127.0.0.0/8",
        "alias_maps": "",
        "alias_database": "",
        "local_recipient_maps": "",
        "smtpd_peername_lookup": "no",
        "biff": "no",
        "message_size_limit": "50000000",
    }


def _master_cf(listeners: Mapping[str, Sequence[str]], ports: Mapping[str, int],
               services: Sequence[str]) -> str:
    smtpd = "".join(
        f"127.0.0.1:{ports[name]} inet n - n - - smtpd"
        + "".join(f" -o {option}" for option in options) + "\n"
        for name, options in listeners.items())
    return smtpd + _BASE_SERVICES + "".join(f"{line}\n" for line in services)


def read_maillog(root: Path) -> str:
    """Everything the instance in ``root`` has logged so far."""
    try:
        return (root / "maillog").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


@contextmanager
def private_folder(prefix: str) -> Iterator[Path]:
    """A new folder with ``conf/``, ``queue/`` and ``data/`` (owned by ``postfix``);
    deleted on exit."""
    # Not a 0700 folder (as pytest's tmp_path lives under): the unprivileged daemons must
    # traverse it.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        root.chmod(0o755)
        (root / "conf").mkdir()
        (root / "queue").mkdir()
        (root / "data").mkdir()
        postfix_user = pwd.getpwnam("postfix")
        os.chown(root / "data", postfix_user.pw_uid, postfix_user.pw_gid)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running_master(
    postfix: str,
    root: Path,
    *,
    settings: Mapping[str, object],
    listeners: Mapping[str, Sequence[str]],
    services: Sequence[str] = (),
) -> Iterator[dict[str, int]]:
    """Configure the instance in ``root`` and start ``master -d``; yield the port of each
    listener; stop it on exit.

    ``settings``: main.cf settings on top of the private ones. ``listeners``: each smtpd's
    name and its master.cf ``-o`` options. ``services``: whole master.cf lines for daemons
    beyond the minimal set (``virtual``, ``tlsmgr``, the ``smtp`` client ...).

    Raises:
        PostfixError: ``postfix check`` failed, or master(8) exited or did not listen.
    """
    conf = root / "conf"
    main_cf = _private_settings(root) | dict(settings)
    (conf / "main.cf").write_text("".join(f"{name} = {value}\n"
                                          for name, value in main_cf.items()))

    def borrow_ports() -> dict[str, int]:
        ports = dict(zip(listeners, free_ports(len(listeners)), strict=True))
        (conf / "master.cf").write_text(_master_cf(listeners, ports, services))
        return ports

    ports = borrow_ports()  # `postfix check` reads master.cf too
    check = subprocess.run([postfix, "-c", str(conf), "check"], capture_output=True,
                           timeout=60)
    if check.returncode != 0:
        output = check.stdout.decode(errors="replace") + check.stderr.decode(errors="replace")
        raise PostfixError(f"postfix check failed:\n{output}\n{read_maillog(root)}")
    daemon_directory = subprocess.run(
        [str(Path(postfix).with_name("postconf")), "-c", str(conf), "-h", "daemon_directory"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()
    master = Path(daemon_directory) / "master"
    process: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(1, _START_ATTEMPTS + 1):
            if attempt > 1:
                ports = borrow_ports()
            with (root / "master.out").open("wb") as master_output:
                process = subprocess.Popen([str(master), "-d", "-c", str(conf)],
                                           stdin=subprocess.DEVNULL, stdout=master_output,
                                           stderr=subprocess.STDOUT)
            try:
                _wait_until_listening(root, ports, process)
                break
            except PostfixError:
                _stop(process)
                process = None
                # Another program took a borrowed port between our probe and master's bind.
                if attempt == _START_ATTEMPTS or not _any_port_taken(ports):
                    raise
        yield ports
    finally:
        if process is not None:
            _stop(process)


def _any_port_taken(ports: Mapping[str, int]) -> bool:
    """True when another program now holds one of *ports* (master(8) could not bind it)."""
    for port in ports.values():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return True
    return False


def _startup_output(root: Path) -> str:
    """What master(8) printed (it reports a failed bind there, before postlogd runs) and
    the log."""
    try:
        printed = (root / "master.out").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        printed = ""
    return printed + read_maillog(root)


def _wait_until_listening(root: Path, ports: Mapping[str, int],
                          process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _LISTEN_TIMEOUT
    pending = set(ports.values())
    while pending:
        if process.poll() is not None:
            raise PostfixError(f"master(8) exited with status {process.returncode}:\n"
                               f"{_startup_output(root)}")
        for port in sorted(pending):
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                pending.discard(port)
        if pending and time.monotonic() > deadline:
            raise PostfixError(f"Postfix did not listen on {sorted(pending)} within"
                               f" {_LISTEN_TIMEOUT:g} s")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    # SIGTERM makes master(8) terminate its children and exit (master(8), "SIGTERM").
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
