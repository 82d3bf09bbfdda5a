"""Serving the console with uvicorn in a background thread, and the bind rules.

A thread (not the main one) runs uvicorn, so ``cdomail lab --web`` can serve the lab and the
console side by side, and the caller learns the real port (``--listen 127.0.0.1:0``) before it
prints the URL. uvicorn installs no signal handlers outside the main thread: the caller stops it.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from ..errors import ConfigurationError

__all__ = ["RunningConsole", "check_bind", "is_loopback", "parse_listen", "start_console"]

_START_TIMEOUT = 15.0


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:8025``, ``[::1]:8025`` or ``localhost:0``."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(f"--listen wants HOST:PORT, not {text!r}", field="listen")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, password: str | None) -> None:
    """Refuse a console reachable from other machines without a login."""
    if not is_loopback(host) and password is None:
        raise ConfigurationError(
            f"the console would be reachable from other machines on {host}: set a login "
            "password (CDOMAIL_WEB_PASSWORD or --password-file) or listen on 127.0.0.1",
            field="listen")


@dataclass
class RunningConsole:
    """A console being served; :meth:`stop` ends it."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()


def start_console(app: ASGIApp, host: str, port: int, *, certfile: str | None = None,
                  keyfile: str | None = None) -> RunningConsole:
    """Serve ``app`` on ``host:port`` in a thread; return once it accepts connections.

    Raises:
        OSError: the address could not be bound.
    """
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            ssl_certfile=certfile, ssl_keyfile=keyfile, lifespan="off",
                            server_header=False)
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run()
        except BaseException as error:  # reported to the caller below
            failure.append(error)

    thread = threading.Thread(target=serve, name="cdomail-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if failure or not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            if failure and isinstance(failure[0], OSError):
                raise failure[0]
            raise OSError(f"the console could not listen on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    return RunningConsole(server, thread, host, int(bound[1]),
                          "https" if certfile else "http")
