"""Helpers shared by the subcommands: secrets from safe places, host:port, output."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .._escape import json_dumps
from ..errors import ConfigurationError
from ..tls import TLSMode


def parse_server(value: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port``."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, ""
    if not host:
        raise ConfigurationError(f"no host in --server {value!r}", field="server")
    if port and not port.isdigit():
        raise ConfigurationError(f"port in --server {value!r} is not a number", field="server")
    return host, int(port) if port else None


def read_secret(args: argparse.Namespace, env_attr: str, file_attr: str, what: str) -> str | None:
    """A secret from an environment variable or a file: never from the command line itself."""
    variable = getattr(args, env_attr, None)
    path = getattr(args, file_attr, None)
    if variable and path:
        raise ConfigurationError(f"give the {what} by environment or by file, not both",
                                 field=what)
    if variable:
        value = os.environ.get(variable)
        if value is None:
            raise ConfigurationError(f"environment variable {variable} (the {what}) is not set",
                                     field=what)
        return value
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the {what} file {path}: {exc.strerror}",
                                     field=what) from None
    return None


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """--tls, --cafile, --fingerprint, --insecure, --timeout."""
    parser.add_argument("--tls", default="auto", choices=[m.value for m in TLSMode],
                        help="TLS mode (default auto: 465 implicit, else STARTTLS required)")
    parser.add_argument("--cafile", help="trust this CA (PEM) in addition to the system store")
    parser.add_argument("--fingerprint", help="pin the server certificate's SHA-256 fingerprint")
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify the certificate (reported in the result)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="connect timeout in seconds (default 30, as CDO)")


def print_json(document: object) -> None:
    """Exactly one JSON document on stdout."""
    # Server-chosen strings inside: DEL, C1 and bidi controls leave as \u escapes, not raw.
    sys.stdout.write(json_dumps(document, indent=2) + "\n")
