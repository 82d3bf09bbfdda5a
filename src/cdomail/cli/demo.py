"""``cdomail demo``: start the lab and send through every TLS mode to every listener."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from rich.table import Table

from ..demo import DEMO_USER, LISTENERS, MODES, Cell, run_matrix
from ..lab import Lab
from ._connection import seconds
from ._output import stdout_console, tame_server_log


def add_parser(subparsers: Any) -> None:
    """Register ``demo``."""
    parser = subparsers.add_parser(
        "demo", help="run the TLS matrix against the built-in lab",
        description="Start the lab (plain, starttls, starttls-required, smtps listeners on free"
                    " ports), send with every cdomail TLS mode to every listener, with and"
                    " without credentials, and show what was delivered, what was encrypted,"
                    " and what failed and why.")
    parser.add_argument("--timeout", type=seconds, default=2.0,
                        help="connect timeout per attempt in seconds (default 2)")
    parser.set_defaults(func=run)


def _table(cells: list[Cell], with_credentials: bool) -> Table:
    title = ("with credentials (AUTH, lab requires TLS for it)" if with_credentials
             else "anonymous")
    table = Table(title=f"cdomail TLS mode x lab listener — {title}", show_lines=True)
    table.add_column("client --tls")
    for listener in LISTENERS:
        table.add_column(listener)
    by_key = {(c.mode, c.listener): c for c in cells if c.with_credentials == with_credentials}
    for mode in MODES:
        row = []
        for listener in LISTENERS:
            cell = by_key[(mode, listener)]
            style = ("green" if cell.delivered and cell.result and cell.result.tls
                     else "yellow" if cell.delivered else "red")
            row.append(f"[{style}]{cell.summary}[/{style}]")
        table.add_row(mode, *row)
    return table


def run(args: argparse.Namespace) -> int:
    """Run the matrix and print it, then why each failure happened."""
    console = stdout_console()
    tame_server_log("demo", expect_not_smtp=True)
    with tempfile.TemporaryDirectory(prefix="cdomail-demo-") as state, \
            Lab(users={DEMO_USER[0]: DEMO_USER[1]}, state_dir=Path(state)) as lab:
        console.print(f"Lab CA: {lab.ca_path}")
        for mode, port in lab.listeners.items():
            console.print(f"  {mode:<18} {lab.host}:{port}")
        console.print(f"Sending {len(MODES) * len(LISTENERS) * 2} messages"
                      f" (connect timeout {args.timeout} s) ...")
        cells = asyncio.run(run_matrix(lab, timeout=args.timeout))
        stored = len(lab.messages)
    for with_credentials in (False, True):
        console.print(_table(cells, with_credentials))
    console.print("[bold]Why each failure happened:[/bold]")
    seen: set[tuple[str, str]] = set()
    for cell in cells:
        if cell.error is not None:
            key = (type(cell.error).__name__, cell.listener)
            if key in seen:
                continue
            seen.add(key)
            console.print(f"- tls={cell.mode} -> {cell.listener}: {cell.error}", markup=False)
    delivered = sum(c.delivered for c in cells)
    encrypted = sum(c.delivered and c.result is not None and c.result.encrypted for c in cells)
    console.print(f"{delivered} delivered ({encrypted} encrypted, {delivered - encrypted}"
                  f" plaintext), {len(cells) - delivered} refused; the lab stored {stored}.")
    return 0 if stored == delivered else 1
