"""The ``cdomail`` command line: one module per subcommand.

Each subcommand module exposes ``add_parser(subparsers) -> None`` (which sets
``func=run`` on its parser) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from .._extras import MissingExtra, require

__all__ = ["main"]

#: sysexits.h EX_UNAVAILABLE: a part the command needs is not installed.
EXIT_MISSING_EXTRA = 69

# Modules that are not written yet are skipped, so each part can land on its own.
_SUBCOMMAND_MODULES = ("demo", "send", "lab", "probe", "explain")


class _NeedsExtra:
    """A subcommand whose extra is not installed: listed, and running it says which to install."""

    def __init__(self, name: str, missing: MissingExtra) -> None:
        self.name, self.missing = name, missing

    def add_parser(self, subparsers: Any) -> None:
        # No option prefix: every argument (even "--flag") is taken, so whatever the user
        # typed ends in the missing-extra line rather than in a usage error.
        parser = subparsers.add_parser(
            self.name, help=f"(needs: pip install 'cdomail[{self.missing.extra}]')",
            add_help=False, prefix_chars="\0",
        )
        parser.add_argument("arguments", nargs="*")
        parser.set_defaults(func=self.run)

    def run(self, args: argparse.Namespace) -> int:
        raise self.missing


def _subcommand_modules() -> list[ModuleType | _NeedsExtra]:
    modules: list[ModuleType | _NeedsExtra] = []
    for name in _SUBCOMMAND_MODULES:
        qualified = f"{__name__}.{name}"
        try:
            modules.append(importlib.import_module(qualified))
        except MissingExtra as missing:
            modules.append(_NeedsExtra(name, missing))
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
    try:
        require("cli", "rich", part="command line")
        args = _parser().parse_args(argv)
        result: int = args.func(args)
    except MissingExtra as missing:
        print(f"cdomail: {missing}", file=sys.stderr)
        return EXIT_MISSING_EXTRA
    return result
