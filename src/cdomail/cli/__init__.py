"""The ``cdomail`` command line: one module per subcommand.

Each subcommand module exposes ``add_parser(subparsers) -> None`` (which sets
``func=run`` on its parser) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from types import ModuleType

__all__ = ["main"]

# Modules that are not written yet are skipped, so each part can land on its own.
_SUBCOMMAND_MODULES = ("demo", "send", "lab", "probe", "explain", "relay", "web")


def _subcommand_modules() -> list[ModuleType]:
    modules = []
    for name in _SUBCOMMAND_MODULES:
        qualified = f"{__name__}.{name}"
        try:
            modules.append(importlib.import_module(qualified))
        except ModuleNotFoundError as missing:
            if missing.name != qualified:
                raise
    return modules


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdomail", description="SMTP sending that tells the truth about encryption."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _subcommand_modules():
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cdomail`` with ``argv`` (default: the process arguments); return the exit code."""
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result
