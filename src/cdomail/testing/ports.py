"""Free loopback ports, for servers that must be told their port (they cannot bind port 0
and report it: Postfix's master, smtp-sink, PostgreSQL, a relay or lab started as a child).

A port found here is released before the server binds it: another program may take it in
between (a small race the callers retry or accept).
"""

from __future__ import annotations

import socket

__all__ = ["free_port", "free_ports"]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """*count* distinct ports free on *host* now (held together while chosen, so distinct)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """One port free on *host* now."""
    return free_ports(1, host)[0]
