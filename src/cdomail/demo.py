"""The lab matrix: every client TLS mode against every lab listener, at once.

This is what ``cdomail demo`` shows (the README's first command), and what the
matrix test checks cell by cell from the server's side.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage

from ._async.client import AsyncSMTPClient
from .errors import CdoMailError
from .lab import Lab
from .result import SendResult
from .tls import TLSMode

LISTENERS = ("plain", "starttls", "starttls-required", "smtps")
MODES = tuple(mode.value for mode in TLSMode)
DEMO_USER = ("demo", "lab-password")


@dataclass(frozen=True)
class Cell:
    """One (mode, listener, credentials) attempt."""

    mode: str
    listener: str
    with_credentials: bool
    result: SendResult | None
    error: CdoMailError | None

    @property
    def delivered(self) -> bool:
        """The lab accepted the message."""
        return self.result is not None and self.result.ok

    @property
    def summary(self) -> str:
        """Short text for a table cell."""
        if self.result is not None and self.result.ok:
            if self.result.tls is None:
                return "✔ PLAINTEXT"
            return f"✔ {self.result.tls.version} ({self.result.tls.mode})"
        assert self.error is not None
        return f"✘ {type(self.error).__name__}"


def demo_message(mode: str, listener: str, with_credentials: bool) -> EmailMessage:
    """A small message that names its cell."""
    message = EmailMessage()
    message["From"] = "demo@cdomail.test"
    message["To"] = "lab@cdomail.test"
    message["Subject"] = f"cdomail demo: tls={mode} -> {listener}" + (
        " (with AUTH)" if with_credentials else "")
    message.set_content(f"Sent with tls={mode} to the lab's {listener} listener.\n")
    return message


async def _attempt(lab: Lab, mode: str, listener: str, with_credentials: bool,
                   timeout: float) -> Cell:
    username, password = DEMO_USER if with_credentials else (None, None)
    try:
        async with AsyncSMTPClient(lab.hostname, lab.port(listener), tls=mode,
                                   cafile=str(lab.ca_path), connect_timeout=timeout,
                                   command_timeout=timeout * 5,
                                   connect_to=(lab.host, lab.port(listener)),
                                   username=username, password=password) as client:
            result = await client.send(demo_message(mode, listener, with_credentials))
        return Cell(mode, listener, with_credentials, result, None)
    except CdoMailError as exc:
        return Cell(mode, listener, with_credentials, None, exc)


async def run_matrix(lab: Lab, *, timeout: float = 2.0,
                     credentials: tuple[bool, ...] = (False, True)) -> list[Cell]:
    """Try every cell concurrently (the whole matrix costs about one timeout)."""
    attempts = [_attempt(lab, mode, listener, creds, timeout)
                for creds in credentials for mode in MODES for listener in LISTENERS]
    return list(await asyncio.gather(*attempts))
