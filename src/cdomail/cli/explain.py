"""``cdomail explain``: say what CDO will do with a configuration, and how to fix it.

::

    cdomail explain FILE|- [--field NAME=VALUE ...] [--json]

FILE holds ``key=value`` lines or a snippet (VBScript / VBA / ASP / AutoIt, JScript / C#,
PowerShell, Python win32com); ``-`` reads standard input; with only ``--field`` options no FILE
is needed. The first line says the verdict: ``encrypted``, ``plaintext``, ``fails`` (with the
HRESULT), ``pickup`` or ``depends`` (with what it depends on); ``--json`` adds ``verdict``,
``hresult``, ``depends_on`` and ``verdict_with_defaults``. Secret-looking fields are never
printed. Exit status: 0 when the mail is certainly sent encrypted, 1 otherwise (unencrypted,
failing, or only encrypted on some paths); usage errors and unreadable input as every
``cdomail`` command (64, 66: see ``--help``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cdomail.cdo.explain import explain_text

from ._exit import UnreadableInput, UsageError
from ._output import print_json

__all__ = ["add_parser", "run"]


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text.split('=')[0]!r}")
    return name.strip(), value.strip()


def add_parser(subparsers: Any) -> None:
    """Register ``explain`` on the ``cdomail`` parser."""
    parser = subparsers.add_parser(
        "explain",
        help="explain what CDO does with a configuration (encryption, errors, fixes)",
        description="Read a CDO configuration (key=value lines, or a VBScript/VBA/ASP/AutoIt, "
        "JScript/C#, PowerShell or Python win32com snippet) and say what CDO will do: a verdict "
        "(encrypted, plaintext, fails, pickup, or depends on named parameters and conditions), "
        "the connection steps, fields that do nothing, a forgotten Update, errors and fixes. "
        "Secret-looking fields are never printed.",
    )
    parser.add_argument("file", nargs="?", help="file to read, or - for standard input")
    parser.add_argument("--field", action="append", type=_field, default=[],
                        metavar="NAME=VALUE", help="a field value (repeatable; short names "
                        "like smtpserverport are in the CDO namespace)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Explain the configuration; see the module docstring for the exit status."""
    if args.file is None and not args.field:
        raise UsageError("give a FILE, - for standard input, or --field NAME=VALUE",
                         field="file")
    text = ""
    if args.file == "-":
        text = sys.stdin.read()
    elif args.file is not None:
        try:
            with open(args.file, encoding="utf-8-sig", errors="replace") as handle:
                text = handle.read()
        except OSError as exc:
            raise UnreadableInput(f"cannot read {args.file}: {exc.strerror}",
                                  field="file") from None
    report = explain_text(text, args.field, filename=None if args.file == "-" else args.file)
    if args.json:
        print_json(report.to_dict())
    else:
        sys.stdout.write(report.to_text())
    return 0 if report.encrypted else 1
