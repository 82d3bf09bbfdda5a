"""Postfix's ``smtp-sink`` and ``smtp-source``, found, started and stopped cleanly.

``smtp-sink`` (Postfix 3.7 here) advertises PIPELINING, 8BITMIME, DSN and
ENHANCEDSTATUSCODES; ``-p`` would turn PIPELINING off. It does not implement CHUNKING: there is
no option to advertise it and ``BDAT`` is answered ``500 unknown command``, so every contestant
sends DATA to it. Its ``-c`` option prints running counters (``sess=N quit=N mesg=N``), which the
benchmark reads to check that every message of a run really arrived.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from cdomail.testing.ports import free_port

__all__ = ["PostfixToolMissing", "SmtpSink", "find_postfix_tool"]

_SEARCH_DIRS = ("/usr/sbin", "/usr/lib/postfix/sbin", "/usr/libexec/postfix", "/usr/local/sbin")
_COUNTER = re.compile(rb"mesg=(\d+)")


class PostfixToolMissing(RuntimeError):
    """``smtp-sink`` or ``smtp-source`` is not installed (Debian: ``apt-get install postfix``)."""


def find_postfix_tool(name: str) -> str:
    """Return the path of the Postfix test program ``name`` (``smtp-sink``/``smtp-source``)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in _SEARCH_DIRS:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise PostfixToolMissing(
        f"{name} not found on PATH or in {', '.join(_SEARCH_DIRS)}; "
        "it ships with Postfix (Debian/Ubuntu: apt-get install postfix)"
    )


class SmtpSink:
    """A running ``smtp-sink`` on ``127.0.0.1``; a context manager.

    Args:
        pipelining: Advertise PIPELINING (``-p`` disables it).
        backlog: The listen backlog argument.
    """

    def __init__(self, *, pipelining: bool = True, backlog: int = 1000) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._pipelining = pipelining
        self._backlog = backlog
        self._process: subprocess.Popen[bytes] | None = None
        self._counter_file: Path | None = None
        self._counter_stream: int | None = None

    def start(self) -> None:
        """Start the sink on a free port and wait until it greets."""
        binary = find_postfix_tool("smtp-sink")
        last_error = ""
        for _attempt in range(5):
            self.port = free_port(self.host)
            argv = [binary, "-c"]
            if os.geteuid() == 0:
                argv += ["-u", "nobody"]  # smtp-sink refuses to run as root without it
            if not self._pipelining:
                argv.append("-p")
            argv += [f"{self.host}:{self.port}", str(self._backlog)]
            fd, name = tempfile.mkstemp(prefix="smtp-sink-", suffix=".counters")
            self._counter_file, self._counter_stream = Path(name), fd
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.PIPE
            )
            if self._wait_until_greeting():
                return
            last_error = self._stop_process()
        raise RuntimeError(f"smtp-sink did not start: {last_error.strip() or 'no greeting'}")

    def _wait_until_greeting(self) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(512).startswith(b"220"):
                        probe.sendall(b"QUIT\r\n")
                        probe.recv(512)
                        return True
            except OSError:
                time.sleep(0.02)
        return False

    def messages_received(self) -> int:
        """Messages the sink has accepted so far (its ``-c`` counter; 0 before the first)."""
        if self._counter_file is None:
            return 0
        with open(self._counter_file, "rb") as stream:
            stream.seek(max(0, os.path.getsize(self._counter_file) - 256))
            counters = _COUNTER.findall(stream.read())
        return int(counters[-1]) if counters else 0

    def wait_for_messages(self, expected: int, timeout: float = 5.0) -> int:
        """Wait until the counter reaches ``expected`` (it is written asynchronously)."""
        deadline = time.monotonic() + timeout
        count = self.messages_received()
        while count < expected and time.monotonic() < deadline:
            time.sleep(0.01)
            count = self.messages_received()
        return count

    def stop(self) -> None:
        """Terminate the sink and remove its counter file."""
        self._stop_process()

    def _stop_process(self) -> str:
        process, self._process = self._process, None
        stderr = ""
        if process is not None:
            process.terminate()
            try:
                _, err = process.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
            stderr = err.decode(errors="replace")
        if self._counter_stream is not None:
            os.close(self._counter_stream)
            self._counter_stream = None
        if self._counter_file is not None:
            with contextlib.suppress(OSError):
                self._counter_file.unlink()
            self._counter_file = None
        return stderr

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
