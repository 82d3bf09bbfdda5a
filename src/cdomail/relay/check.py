"""``cdomail relay check``: would mail leave this relay encrypted and authenticated?

Three steps, each printed as it goes, none of which sends mail:

1. the configuration file is read and validated (errors name the line);
2. the upstream port is probed with :mod:`cdomail.probe` (what it offers: TLS,
   STARTTLS, the certificate) and, for ``auth = "xoauth2"``, an access token is
   obtained from the token endpoint;
3. a real session is opened exactly as the delivery worker opens it (same TLS
   policy, same certificate checks, same credentials), then closed with QUIT
   before any MAIL command.

Exit status: 0 only when step 3 ran inside verified TLS and logged in; 1 when
mail would not go out encrypted and authenticated (each reason printed); 2 when
the file is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TextIO

from cdomail._async.client import AsyncSMTPClient
from cdomail.errors import CdoMailError, printable
from cdomail.probe import probe
from cdomail.relay.config import RelayConfig, RelayConfigError, load_config
from cdomail.relay.delivery import upstream_client_options
from cdomail.relay.oauth2 import TokenProvider

__all__ = ["CheckOutcome", "add_arguments", "check_upstream", "run"]


@dataclass
class CheckOutcome:
    """What the check found: the facts, the lines shown, and the verdict."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    encrypted: bool = False
    verified: bool = False
    authenticated: bool = False

    @property
    def ok(self) -> bool:
        """Mail would go out encrypted (verified certificate) and authenticated."""
        return self.encrypted and self.verified and self.authenticated and not self.problems

    def say(self, line: str) -> None:
        self.lines.append(line)

    def problem(self, line: str) -> None:
        self.problems.append(line)
        self.lines.append(f"  PROBLEM: {line}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``relay check`` options beyond ``--config``."""
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds for each network step (default: [upstream] timeout)")


async def _probe_lines(config: RelayConfig, outcome: CheckOutcome, timeout: float) -> None:
    upstream = config.upstream
    cafile = None if upstream.cafile is None else str(upstream.cafile)
    try:
        report = await probe(upstream.host, [upstream.port], timeout=timeout, cafile=cafile)
    except CdoMailError as error:
        outcome.say(f"  probe: {printable(str(error), newlines=False)}")
        return
    port = report.port(upstream.port)
    outcome.say(f"  probe of port {upstream.port}: {port.verdict.value}")
    outcome.say(f"    {printable(port.recommendation.cdomail, newlines=False)}")


async def _token(config: RelayConfig, outcome: CheckOutcome) -> str | None:
    oauth2 = config.upstream.oauth2
    if config.upstream.auth != "xoauth2" or oauth2 is None:
        return None
    provider = TokenProvider(oauth2)
    try:
        token = await provider.token()
    except CdoMailError as error:
        outcome.problem(f"no OAuth2 token: {printable(str(error), newlines=False)}")
        return None
    grant = provider.grant_type.replace("_", " ")
    outcome.say(f"  OAuth2: token obtained from {oauth2.token_url} ({grant} grant)")
    return token


async def _session(config: RelayConfig, outcome: CheckOutcome, token: str | None,
                   timeout: float) -> None:
    upstream = config.upstream
    options = await upstream_client_options(upstream, token)
    options["connect_timeout"] = options["command_timeout"] = timeout
    client = AsyncSMTPClient(upstream.host, upstream.port, **options)
    try:
        await client.connect()
    except CdoMailError as error:
        outcome.problem(f"session refused: {printable(str(error), newlines=False)}")
        return
    try:
        tls = client.tls_info
        outcome.encrypted = tls is not None
        outcome.verified = tls is not None and tls.verified is True
        outcome.authenticated = upstream.auth != "none"
        if tls is None:
            outcome.problem("the session is not encrypted (tls = none/opportunistic)")
        else:
            state = "verified" if tls.verified else "NOT verified"
            outcome.say(f"  session: {tls.mode} {tls.version} {tls.cipher}, certificate {state}")
            if not tls.verified:
                outcome.problem("the upstream's certificate is not verified")
        if upstream.auth == "none":
            outcome.problem("no authentication configured ([upstream] auth = \"none\")")
        else:
            outcome.say(f"  logged in as {upstream.username} with {upstream.auth}")
    finally:
        with contextlib.suppress(CdoMailError, OSError):
            await client.aclose()


async def check_upstream(config: RelayConfig, *, timeout: float | None = None) -> CheckOutcome:
    """Probe, get a token if needed, open and close one real session; never send mail."""
    outcome = CheckOutcome()
    seconds = timeout if timeout is not None else min(config.upstream.timeout, 30.0)
    outcome.say(f"upstream {config.upstream.host}:{config.upstream.port}"
                f" (tls = {config.upstream.tls}, auth = {config.upstream.auth})")
    await _probe_lines(config, outcome, seconds)
    token = await _token(config, outcome)
    if config.upstream.auth == "xoauth2" and token is None:
        return outcome
    await _session(config, outcome, token, seconds)
    return outcome


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``relay check`` (called by :mod:`cdomail.cli.relay`)."""
    import sys

    stream = out if out is not None else sys.stdout
    try:
        config = load_config(args.config)
    except RelayConfigError as error:
        print(f"cdomail relay check: {error}", file=sys.stderr)
        return 2
    print(f"{args.config}: valid", file=stream)
    outcome = asyncio.run(check_upstream(config, timeout=getattr(args, "timeout", None)))
    for line in outcome.lines:
        print(line, file=stream)
    if outcome.ok:
        print("mail would go out encrypted (certificate verified) and authenticated",
              file=stream)
        return 0
    print("mail would NOT go out encrypted and authenticated", file=stream)
    return 1
