"""This machine's EHLO name: one lookup per process (``socket.getfqdn`` may wait on DNS)."""

from __future__ import annotations

import socket
import threading

from ..errors import ConfigurationError
from ..session import check_ehlo_name

_LOCAL_HOSTNAME: str | None = None
_LOCAL_HOSTNAME_LOCK = threading.Lock()


def default_local_hostname() -> str:
    """This machine's name in a form EHLO accepts (RFC 5321 §4.1.4), else an address literal.

    ``socket.getfqdn()`` may wait on DNS: it runs once per process (the first caller
    resolves, concurrent callers wait for that answer) and the answer is kept.
    """
    global _LOCAL_HOSTNAME
    if _LOCAL_HOSTNAME is not None:
        return _LOCAL_HOSTNAME
    with _LOCAL_HOSTNAME_LOCK:
        if _LOCAL_HOSTNAME is None:
            _LOCAL_HOSTNAME = _ehlo_form(socket.getfqdn())
        return _LOCAL_HOSTNAME


def cached_local_hostname() -> str | None:
    """The name :func:`default_local_hostname` found, without resolving; ``None`` before."""
    return _LOCAL_HOSTNAME


def _ehlo_form(name: str) -> str:
    if not name or not all(c.isalnum() or c in ".-" for c in name) or "." not in name:
        name = "[127.0.0.1]" if name in ("", "localhost") or not name.isascii() else name
    try:
        check_ehlo_name(name)
    except ConfigurationError:
        return "[127.0.0.1]"  # a name EHLO cannot carry: the address literal says no less
    return name
