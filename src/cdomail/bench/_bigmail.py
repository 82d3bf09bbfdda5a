"""Scenario 5: one message with a large attachment, sent from a fresh child process.

Each sender runs in its own ``python -m cdomail.bench._bigmail`` process so that its peak
resident memory is its own: the child reads ``VmHWM`` (the kernel's high-water mark of resident
memory) from ``/proc/self/status`` after its imports and again after the send, and prints one
JSON line with the wall time and the growth. :func:`run_bigmail` starts the child and parses it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

__all__ = ["BigMailResult", "make_attachment", "run_bigmail"]

SENDERS = ("smtplib", "cdomail")
#: Exit status of a child whose sender does not exist (yet): reported as skipped, not failed.
UNAVAILABLE_EXIT = 3


@dataclass(frozen=True)
class BigMailResult:
    """What one child measured."""

    sender: str
    elapsed: float
    rss_growth_bytes: int
    variant: str


def make_attachment(path: Path, size: int) -> Path:
    """Write ``size`` pseudo-random bytes (incompressible, binary) to ``path`` once."""
    if not path.exists() or path.stat().st_size != size:
        with open(path, "wb") as stream:
            remaining = size
            while remaining:
                block = os.urandom(min(remaining, 1 << 20))
                stream.write(block)
                remaining -= len(block)
    return path


def _peak_rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM missing from /proc/self/status")


def _headers(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Bench <bench@example.com>"
    message["To"] = "Sink <sink@example.net>"
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{uuid.uuid4().hex}@bench.localhost>"
    return message


def _send_with_smtplib(host: str, port: int, attachment: Path) -> str:
    import smtplib

    message = _headers("benchmark attachment (smtplib + email)")
    message.set_content("The attachment follows.\n")
    message.add_attachment(
        attachment.read_bytes(),
        maintype="application",
        subtype="octet-stream",
        filename=attachment.name,
    )
    with smtplib.SMTP(host, port, local_hostname="bench.localhost") as client:
        client.send_message(message)
    return "EmailMessage.add_attachment(bytes) + smtplib.send_message"


def _send_with_cdomail(host: str, port: int, attachment: Path) -> str:
    import cdomail

    client_class: Any = getattr(cdomail, "SMTPClient", None)
    if client_class is None:
        print("cdomail.SMTPClient does not exist yet", file=sys.stderr)
        raise SystemExit(UNAVAILABLE_EXIT)
    message = cdomail.StreamedMessage(
        _headers("benchmark attachment (cdomail, streamed)"),
        text="The attachment follows.\n",
        attachments=[attachment],
    )
    with client_class(host, port, tls="none", local_hostname="bench.localhost") as client:
        result = client.send(message)
    if getattr(result, "error", None) is not None or getattr(result, "refused", None):
        raise SystemExit(f"cdomail did not deliver: {result}")
    return "cdomail.StreamedMessage (email headers, attachment base64'd per 57 KiB block)"


def _child_env() -> dict[str, str]:
    """The environment for a child Python that must import this very ``cdomail``."""
    env = dict(os.environ)
    src_dir = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src_dir, *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_bigmail(
    sender: str, host: str, port: int, attachment: Path, timeout: float = 300
) -> BigMailResult:
    """Send ``attachment`` once with ``sender`` in a fresh child process; return its figures."""
    argv = [
        sys.executable, "-m", "cdomail.bench._bigmail", "--sender", sender,
        "--host", host, "--port", str(port), "--attachment", str(attachment),
    ]  # fmt: skip
    completed = subprocess.run(
        argv, capture_output=True, env=_child_env(), timeout=timeout, check=False
    )
    lines = completed.stdout.decode(errors="replace").strip().splitlines()
    detail = completed.stderr.decode(errors="replace").strip().splitlines()
    if completed.returncode == UNAVAILABLE_EXIT:
        from cdomail.bench._contestants import ContestantUnavailable

        raise ContestantUnavailable(detail[-1] if detail else f"{sender} is not available")
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{sender} child failed: {detail[-1] if detail else 'no output'}")
    figures = json.loads(lines[-1])
    return BigMailResult(
        sender=sender,
        elapsed=figures["elapsed"],
        rss_growth_bytes=figures["rss_growth_bytes"],
        variant=figures["variant"],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the child: send once, print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m cdomail.bench._bigmail")
    parser.add_argument("--sender", choices=SENDERS, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--attachment", type=Path, required=True)
    args = parser.parse_args(argv)
    send = _send_with_smtplib if args.sender == "smtplib" else _send_with_cdomail
    if args.sender == "cdomail":
        import cdomail  # noqa: F401  (imports belong to the baseline, not the growth)
    import smtplib  # noqa: F401

    baseline = _peak_rss_bytes()
    start = time.perf_counter()
    variant = send(args.host, args.port, args.attachment)
    elapsed = time.perf_counter() - start
    growth = _peak_rss_bytes() - baseline
    print(json.dumps({"elapsed": elapsed, "rss_growth_bytes": growth, "variant": variant}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
