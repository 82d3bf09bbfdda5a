"""A private, throw-away Postfix instance for the interop tests.

Everything lives in one temporary directory: ``conf/`` (main.cf, master.cf, the Cyrus SASL
``smtpd.conf``), ``queue/``, ``data/``, ``mail/`` (the Maildir that virtual(8) delivers into),
the certificates and ``maillog`` (postlogd(8) writes there because a sandbox has no syslog).
``master -d`` runs in the foreground as our child, so stopping it is a signal and a ``wait()``,
and the system Postfix (if any) is never touched: no file under /etc/postfix is read for
settings we rely on, no port below 1024 is used, and nothing binds outside 127.0.0.1. That
private instance is :mod:`cdomail.testing.postfix`'s (shared with the relay benchmark); this
module makes it a Maildir server with TLS and SASL listeners.

Four smtpd listeners mirror the cdomail lab's names:

============================  ============================================================
``plain``                     no STARTTLS offered (``smtpd_tls_security_level=none``)
``starttls``                  STARTTLS offered, optional (``may``)
``starttls-required``         MAIL refused with 530 until STARTTLS (``encrypt``)
``smtps``                     TLS from the first byte (``smtpd_tls_wrappermode=yes``, RFC 8314)
============================  ============================================================

Every recipient in ``example.test`` is delivered to the single Maildir ``mail/inbox``; nothing
can leave the machine because every non-local transport is ``error:``.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

from cdomail.testing.postfix import private_folder, read_maillog, running_master

__all__ = [
    "LISTENERS",
    "SASL_AUTHENTICATED_AS",
    "SASL_PASSWORD",
    "SASL_USERNAME",
    "TEST_DOMAIN",
    "PostfixInstance",
    "running_postfix",
]

LISTENERS = ("plain", "starttls", "starttls-required", "smtps")
TEST_DOMAIN = "example.test"
SERVER_HOSTNAME = "postfix.example.test"
SASL_USERNAME = "user"
# A throw-away credential for a sasldb that only lives as long as the test session.
SASL_PASSWORD = "interop-secret"
# Cyrus appends smtpd_sasl_local_domain as the realm; Postfix logs and records this name.
SASL_AUTHENTICATED_AS = f"{SASL_USERNAME}@{TEST_DOMAIN}"

# Per-listener overrides (master.cf ``-o``). syslog_name makes each listener's log lines findable.
_LISTENER_OPTIONS: dict[str, tuple[str, ...]] = {
    "plain": ("smtpd_tls_security_level=none", "smtpd_sasl_auth_enable=no"),
    "starttls": ("smtpd_tls_security_level=may",),
    "starttls-required": ("smtpd_tls_security_level=encrypt",),
    "smtps": ("smtpd_tls_wrappermode=yes", "smtpd_tls_security_level=encrypt"),
}

# Beyond the base daemons: TLS session caching and virtual(8) delivery into the Maildir.
_EXTRA_SERVICES = (
    "tlsmgr    unix  -  -  n  1000? 1 tlsmgr",
    "virtual   unix  -  n  n  -    -  virtual",
)


@dataclass
class PostfixInstance:
    """A running private Postfix: where it listens and how to read what it delivered."""

    root: Path
    ports: dict[str, int]
    ca_path: Path
    sasl_enabled: bool
    host: str = "127.0.0.1"
    hostname: str = SERVER_HOSTNAME

    @property
    def maildir(self) -> Path:
        """The Maildir every ``@example.test`` recipient is delivered to."""
        return self.root / "mail" / "inbox"

    @property
    def maillog(self) -> Path:
        """Postfix's log file (postlogd)."""
        return self.root / "maillog"

    def port(self, listener: str) -> int:
        """The TCP port of *listener* (one of :data:`LISTENERS`)."""
        return self.ports[listener]

    def log_text(self) -> str:
        """Everything Postfix has logged so far."""
        return read_maillog(self.root)

    def wait_for_message(self, marker: bytes, *, timeout: float = 20.0) -> bytes:
        """Return the bytes of the delivered message that contains *marker*.

        Polls ``mail/inbox/new`` until a file containing *marker* appears. Raises
        :class:`AssertionError` with the tail of the Postfix log when none arrives in time.
        """
        deadline = time.monotonic() + timeout
        new_dir = self.maildir / "new"
        while True:
            if new_dir.is_dir():
                for path in sorted(new_dir.iterdir()):
                    data = path.read_bytes()
                    if marker in data:
                        return data
            if time.monotonic() > deadline:
                tail = "\n".join(self.log_text().splitlines()[-30:])
                raise AssertionError(
                    f"no message containing {marker!r} was delivered within {timeout}s; "
                    f"Postfix log tail:\n{tail}"
                )
            time.sleep(0.05)

    def wait_for_log(self, pattern: str, *, timeout: float = 10.0) -> re.Match[str]:
        """Wait until a log line matches regex *pattern*; return the match."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            match = compiled.search(self.log_text())
            if match is not None:
                return match
            if time.monotonic() > deadline:
                tail = "\n".join(self.log_text().splitlines()[-30:])
                raise AssertionError(f"no log line matched {pattern!r}; log tail:\n{tail}")
            time.sleep(0.05)

    def session_counts(self, queue_id: str, *, timeout: float = 10.0) -> dict[str, int]:
        """The command counts smtpd logged when the session that queued *queue_id* ended.

        smtpd(8) ends each session with ``disconnect from ... ehlo=2 starttls=1 bdat=3 ...``;
        the session is found through the ``<queue_id>: client=`` line of the same process.
        """
        client_line = self.wait_for_log(
            rf"postfix/[a-z-]+/smtpd\[(?P<pid>\d+)\]: {re.escape(queue_id)}: client=",
            timeout=timeout,
        )
        pid = client_line["pid"]
        start = client_line.end()
        deadline = time.monotonic() + timeout
        pattern = re.compile(rf"smtpd\[{pid}\]: disconnect from \S+ (?P<counts>[^\n]*)")
        while True:
            match = pattern.search(self.log_text(), start)
            if match is not None:
                counts = {}
                for item in match["counts"].split():
                    name, _, value = item.partition("=")
                    counts[name] = int(value.split("/")[0])
                return counts
            if time.monotonic() > deadline:
                raise AssertionError(f"smtpd[{pid}] logged no disconnect for {queue_id}")
            time.sleep(0.05)


def _settings(root: Path, *, sasl_enabled: bool, delivery_uid: int) -> dict[str, object]:
    """main.cf, beyond the private instance's settings."""
    settings: dict[str, object] = {
        "myhostname": SERVER_HOSTNAME,
        "mydomain": TEST_DOMAIN,
        "myorigin": SERVER_HOSTNAME,
        "relayhost": "",
        # Nothing may ever leave this machine: every transport but virtual is error(8).
        "default_transport": "error:interop tests never relay",
        "relay_transport": "error:interop tests never relay",
        "local_transport": "error:no local delivery in interop tests",
        "virtual_mailbox_domains": TEST_DOMAIN,
        "virtual_mailbox_base": root / "mail",
        "virtual_mailbox_maps": "static:inbox/",  # trailing slash: Maildir format
        "virtual_uid_maps": f"static:{delivery_uid}",
        "virtual_gid_maps": f"static:{delivery_uid}",
        "virtual_mailbox_limit": "0",
        # Do not let cleanup(8) add or rewrite headers: we compare delivered bytes with sent ones.
        "local_header_rewrite_clients": "",
        "remote_header_rewrite_domain": "",
        "smtputf8_enable": "yes",
        "smtpd_tls_chain_files": root / "server.pem",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_received_header": "yes",
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_auth_only": "yes",
        "tls_random_source": "dev:/dev/urandom",
    }
    if sasl_enabled:
        settings |= {
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": root / "conf" / "sasl",
            "smtpd_sasl_local_domain": TEST_DOMAIN,
            # Put "(Authenticated sender: user)" in the Received header.
            "smtpd_sasl_authenticated_header": "yes",
        }
    return settings


def _listener_options() -> dict[str, tuple[str, ...]]:
    """Each listener's master.cf ``-o`` options; syslog_name makes its log lines findable."""
    return {name: (f"syslog_name=postfix/{name}", *_LISTENER_OPTIONS[name])
            for name in LISTENERS}


def _setup_sasl(root: Path, saslpasswd2: str) -> None:
    """Create a Cyrus sasldb with one user and point smtpd's SASL config at it."""
    sasl_dir = root / "conf" / "sasl"
    sasl_dir.mkdir()
    sasldb = root / "sasldb2"
    (sasl_dir / "smtpd.conf").write_text(
        "pwcheck_method: auxprop\n"
        "auxprop_plugin: sasldb\n"
        "mech_list: PLAIN LOGIN\n"
        f"sasldb_path: {sasldb}\n"
    )
    subprocess.run(
        [saslpasswd2, "-c", "-p", "-f", str(sasldb), "-u", TEST_DOMAIN, SASL_USERNAME],
        input=SASL_PASSWORD.encode(),
        check=True,
        capture_output=True,
        timeout=30,
    )
    # smtpd runs as mail_owner; it must be able to read the database, nobody else.
    postfix_user = pwd.getpwnam("postfix")
    os.chown(sasldb, 0, postfix_user.pw_gid)
    sasldb.chmod(0o640)


@contextmanager
def running_postfix(*, postfix: str, saslpasswd2: str | None) -> Iterator[PostfixInstance]:
    """Configure, start and (on exit) stop and delete a private Postfix instance.

    *postfix* is the path of the ``postfix`` command; *saslpasswd2* the path of Cyrus's
    ``saslpasswd2`` or None, in which case the instance offers no AUTH.
    """
    with private_folder("cdomail-postfix-") as root:
        # virtual(8) refuses uid 0 and delivering as mail_owner is discouraged: use nobody.
        delivery_uid = pwd.getpwnam("nobody").pw_uid
        (root / "mail").mkdir()
        os.chown(root / "mail", delivery_uid, delivery_uid)

        ca = trustme.CA(organization_name="cdomail interop test CA")
        ca_path = root / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        server_cert = ca.issue_cert(SERVER_HOSTNAME, "localhost", "127.0.0.1")
        server_cert.private_key_and_cert_chain_pem.write_to_path(str(root / "server.pem"))
        (root / "server.pem").chmod(0o600)

        sasl_enabled = saslpasswd2 is not None
        if saslpasswd2 is not None:
            _setup_sasl(root, saslpasswd2)

        settings = _settings(root, sasl_enabled=sasl_enabled, delivery_uid=delivery_uid)
        with running_master(postfix, root, settings=settings, listeners=_listener_options(),
                            services=_EXTRA_SERVICES) as ports:
            yield PostfixInstance(root=root, ports=ports, ca_path=ca_path,
                                  sasl_enabled=sasl_enabled)
