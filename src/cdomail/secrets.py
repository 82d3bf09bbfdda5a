"""Secrets from safe places: an environment variable, a file, a command, or a prompt.

One spelling for every part of cdomail that needs a password or a token (the command
line's accounts file, the relay)::

    env:NAME        the environment variable NAME
    file:PATH       the file's content (one trailing newline removed; ``~`` expanded)
    command:ARGV    the standard output of ARGV, run without a shell (as msmtp's
                    ``passwordeval``); ``command:sh -c '...'`` when a shell is truly needed
    prompt          ask on the terminal (getpass), only when one is attached

Errors never contain the secret, nor the output of a failed command (it may hold one).
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
import sys
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["SECRET_SOURCES", "SecretUnavailable", "resolve_secret"]

#: The prefixes :func:`resolve_secret` understands.
SECRET_SOURCES = ("env:", "file:", "command:", "prompt")

# A secret command that hangs (a locked keyring waiting for a GUI) must not hang the caller.
_COMMAND_TIMEOUT = 60.0


class SecretUnavailable(ConfigurationError):
    """A secret could not be obtained from its source; ``field`` names the setting."""


def _strip_one_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _from_env(name: str, field: str) -> str:
    if not name:
        raise SecretUnavailable(f"{field}: env: needs a variable name", field=field)
    value = os.environ.get(name)
    if value is None:
        raise SecretUnavailable(f"{field}: environment variable {name} is not set", field=field)
    if not value:
        raise SecretUnavailable(f"{field}: environment variable {name} is empty", field=field)
    return value


def _from_file(path_text: str, field: str) -> str:
    path = Path(path_text).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SecretUnavailable(f"{field}: cannot read secret file {path}: {reason}",
                                field=field) from None
    try:
        value = _strip_one_newline(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SecretUnavailable(f"{field}: secret file {path} is not UTF-8 text",
                                field=field) from None
    if not value:
        raise SecretUnavailable(f"{field}: secret file {path} is empty", field=field)
    return value


def _from_command(command: str, field: str) -> str:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SecretUnavailable(f"{field}: cannot parse the command: {exc}", field=field) from None
    if not argv:
        raise SecretUnavailable(f"{field}: command: needs a program to run", field=field)
    try:
        completed = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=_COMMAND_TIMEOUT, check=False)
    except FileNotFoundError:
        raise SecretUnavailable(f"{field}: command {argv[0]!r} not found", field=field) from None
    except subprocess.TimeoutExpired:
        raise SecretUnavailable(f"{field}: command {argv[0]!r} did not finish within"
                                f" {_COMMAND_TIMEOUT:g} s", field=field) from None
    except OSError as exc:
        raise SecretUnavailable(f"{field}: cannot run {argv[0]!r}: {exc.strerror}",
                                field=field) from None
    if completed.returncode != 0:
        # Never echo its output: a half-working password manager may have printed the secret.
        raise SecretUnavailable(f"{field}: command {argv[0]!r} failed with exit status"
                                f" {completed.returncode}", field=field)
    try:
        return _strip_one_newline(completed.stdout.decode("utf-8"))
    except UnicodeDecodeError:
        raise SecretUnavailable(f"{field}: command {argv[0]!r} printed something that is not"
                                " UTF-8", field=field) from None


def _from_prompt(field: str) -> str:
    if not sys.stdin.isatty():
        raise SecretUnavailable(f"{field}: no terminal to ask for it on; use env:, file: or"
                                " command:", field=field)
    try:
        return getpass.getpass(f"{field}: ")
    except EOFError:
        raise SecretUnavailable(f"{field}: nothing was typed", field=field) from None


def resolve_secret(spec: str, *, field: str) -> str:
    """The secret that ``spec`` points to (see the module docstring for the spellings).

    Raises:
        SecretUnavailable: the source is unknown, missing, unreadable, or failed;
            the message names ``field`` and never contains the secret.
    """
    kind, sep, rest = spec.partition(":")
    if spec == "prompt":
        value = _from_prompt(field)
    elif sep and kind == "env":
        value = _from_env(rest, field)
    elif sep and kind == "file":
        value = _from_file(rest, field)
    elif sep and kind == "command":
        value = _from_command(rest, field)
    else:
        raise SecretUnavailable(f"{field}: unknown secret source; use env:NAME, file:PATH,"
                                " command:PROGRAM ARGS or prompt", field=field)
    if not value:
        raise SecretUnavailable(f"{field}: the secret is empty", field=field)
    return value
