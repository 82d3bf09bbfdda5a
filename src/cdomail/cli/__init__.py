"""The ``cdomail`` command line: one module per subcommand.

Each subcommand module exposes ``add_parser(subparsers) -> None`` (which sets
``func=run`` on its parser) and ``run(args) -> int``. :func:`main` owns what every
subcommand shares: the exit-status scheme (:mod:`._exit`), one line on stderr instead of a
traceback for anything a user can cause (``--debug`` shows the traceback), Ctrl-C, and a
reader that closed the pipe early (``| head``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any, NoReturn

from .._extras import MissingExtra, require
from ..errors import CdoMailError
from ._exit import EPILOG, ExitCode, exit_code_for
from ._wording import flagged

__all__ = ["main", "sendmail_main"]

# Modules that are not written yet are skipped, so each part can land on its own.
_SUBCOMMAND_MODULES = (
    "demo", "send", "send_many", "sendmail", "lab", "probe", "explain", "relay", "web",
)


class _Parser(argparse.ArgumentParser):
    """argparse with sysexits' EX_USAGE (64) for usage errors instead of 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Wrapped prose, but the exit-status table kept as it is written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit status:"):
            return text
        return super()._fill_text(text, width, indent)


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


def _version() -> str:
    try:
        return version("cdomail")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cdomail", description="SMTP sending that tells the truth about encryption.",
        epilog=EPILOG, formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cdomail {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _subcommand_modules():
        module.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        subparser.formatter_class = _HelpFormatter
        subparser.epilog = EPILOG
        subparser.add_argument("--debug", action="store_true",
                               help="show the Python traceback of an error")
    return parser


def _silence_stdout() -> None:
    """After a broken pipe, send what is still buffered nowhere (no second error at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _flush_after_exit(exit_request: SystemExit, command: str) -> int:
    from ._output import diagnose  # not at import: rich may be missing (see _missing_rich)

    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        diagnose(command, "output closed before everything was written (broken pipe)")
        return ExitCode.IO_ERROR
    return exit_request.code if isinstance(exit_request.code, int) else ExitCode.USAGE


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
                command: str) -> int:
    """Parse and run; turn every way it can end into an exit status (see :mod:`._exit`)."""
    from ._output import diagnose  # not at import: rich may be missing (see _missing_rich)

    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    try:
        args = parser.parse_args(arguments)
        command = getattr(args, "command", None) or command
        code = int(args.func(args))
        sys.stdout.flush()
        return code
    except SystemExit as exit_request:  # --help, --version, usage errors
        return _flush_after_exit(exit_request, command)
    except BrokenPipeError:
        _silence_stdout()
        diagnose(command, "output closed before everything was written (broken pipe)")
        return ExitCode.IO_ERROR
    except KeyboardInterrupt:
        diagnose(command, "interrupted (Ctrl-C)")
        return ExitCode.INTERRUPTED
    except CdoMailError as error:
        if debug:
            traceback.print_exc()
        diagnose(command, flagged(error))
        return exit_code_for(error)
    except Exception as error:  # a bug: say so in one line, the traceback with --debug
        if debug:
            traceback.print_exc()
        diagnose(command, f"internal error ({type(error).__name__}: {error}); run again with"
                          " --debug and report it")
        return ExitCode.SOFTWARE


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cdomail`` with ``argv`` (default: the process arguments); return the exit code."""
    missing = _missing_rich()
    if missing is not None:
        return missing
    return run_command(_parser(), argv, "")


def sendmail_main(argv: Sequence[str] | None = None) -> int:
    """The ``cdomail-sendmail`` program (link it as ``sendmail``): ``cdomail sendmail ARGS``."""
    missing = _missing_rich()
    if missing is not None:
        return missing
    from .sendmail import standalone_parser

    return run_command(standalone_parser(_Parser, _HelpFormatter), argv, "sendmail")


def _missing_rich() -> int | None:
    """Without the ``cli`` extra (rich), one line and EX_UNAVAILABLE instead of a traceback."""
    try:
        require("cli", "rich", part="command line")
    except MissingExtra as missing:
        print(f"cdomail: {missing}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    return None
