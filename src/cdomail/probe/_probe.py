"""The probe itself: for each port, a plaintext attempt and an implicit-TLS attempt, concurrently.

Why two connections per port, at the same time: a server that greets in
plaintext is found within a round trip, but one that waits for TLS (port 465)
or never answers costs a whole timeout on the plaintext side. Running the
implicit-TLS attempt next to it means every port, and every port of a host
(``asyncio.gather``), is done in about one timeout.

By default nothing but greeting, EHLO, STARTTLS and QUIT goes to the server:
``MAIL FROM:<>`` + RSET only with ``check_required`` (never RCPT or DATA), and
AUTH only with ``login``, and only inside TLS.
"""

from __future__ import annotations

import asyncio
import errno
import re
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .._backends._async_stream import AsyncNetworkStream, open_async_stream
from .._backends._hostname import default_local_hostname
from ..errors import (
    CdoMailError,
    ConfigurationError,
    ConnectError,
    ConnectTimeout,
    ReadTimeout,
    ServerDisconnected,
    TimeoutError,
)
from ..protocol import Ehlo, Reply, Secret, check_argument
from ..session import Observation, ObservePlan
from ..tls import TLSMode, TLSSettings, create_ssl_context, diagnose_handshake
from ..transcript import Transcript, escape
from ._certificate import session_details, verify_reason
from ._facts import (
    Greeting,
    Handshake,
    ImplicitFacts,
    LoginResult,
    PlaintextFacts,
    PortFacts,
    Reach,
    ReplySummary,
)
from ._report import PortReport, ProbeReport, build_port_report
from ._session import Limits, ProbeSession

#: The ports mail is usually offered on: relay (25), submissions (465, RFC 8314),
#: submission (587, RFC 6409) and the common alternative 2525.
DEFAULT_PORTS = (25, 465, 587, 2525)
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Options:
    host: str
    timeout: float
    limits: Limits
    verify: bool
    check_required: bool
    login: tuple[str, Secret] | None
    local_hostname: str
    verified_context: ssl.SSLContext
    unverified_context: ssl.SSLContext
    cafile: str | None = None


async def probe(
    host: str,
    ports: Iterable[int] = DEFAULT_PORTS,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    command_timeout: float | None = None,
    deadline: float | None = None,
    cafile: str | None = None,
    verify: bool = True,
    check_required: bool = False,
    login: tuple[str, str | Secret] | None = None,
    connect_to: Mapping[int, tuple[str, int]] | None = None,
    local_hostname: str | None = None,
) -> ProbeReport:
    """Find out what ``host`` supports on each port, and what CDO would do there.

    Args:
        host: the server name (also the name its certificate must carry).
        ports: the configured ports to probe, all at once.
        timeout: seconds for each network step (connect, implicit-TLS handshake, a write).
        command_timeout: seconds for a whole reply, however slowly it trickles in, and for
            the TLS handshake after STARTTLS (default: ``timeout``).
        deadline: overall seconds for the whole probe (every port); each wait is cut to
            what is left, and what is not done by then is reported as timed out.
        cafile: a CA bundle to trust besides the system store.
        verify: check certificates; with ``False`` they are read but not judged.
        check_required: send ``MAIL FROM:<>`` (then RSET) in plaintext to learn
            whether mail is refused before STARTTLS. Never RCPT or DATA.
        login: ``(user, password)`` to try AUTH, inside TLS only.
        connect_to: configured port -> the address really connected to (tests,
            port forwarding); reports and predictions still use the configured port.
        local_hostname: the EHLO name (default: this machine's name).

    Raises:
        ConfigurationError: bad arguments, before anything touches the network.
    """
    options = _check_options(host, timeout, cafile, verify, check_required, login,
                             local_hostname, command_timeout, deadline)
    port_list = _check_ports(ports)
    targets = _check_connect_to(connect_to or {}, port_list)
    started = time.monotonic()
    reports = await asyncio.gather(
        *(_probe_port(options, port, targets.get(port, (host, port))) for port in port_list)
    )
    return ProbeReport(host=host, timeout=timeout, ports=tuple(reports),
                       elapsed=time.monotonic() - started)


def probe_sync(host: str, ports: Iterable[int] = DEFAULT_PORTS, **options: object) -> ProbeReport:
    """:func:`probe` for code without an event loop (same arguments).

    Raises:
        ConfigurationError: bad arguments, or called from inside a running event loop
            (``await probe(...)`` there instead).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(probe(host, ports, **options))  # type: ignore[arg-type]
    raise ConfigurationError("probe_sync() cannot run inside an event loop: await probe()",
                             field="probe")


# -- argument checks (before any byte goes on the wire) -------------------------------------


def _check_options(
    host: str,
    timeout: float,
    cafile: str | None,
    verify: bool,
    check_required: bool,
    login: tuple[str, str | Secret] | None,
    local_hostname: str | None,
    command_timeout: float | None = None,
    deadline: float | None = None,
) -> _Options:
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
        raise ConfigurationError(f"invalid host name {host!r}", field="host")
    check_argument(host, "host")
    for name, value in (("timeout", timeout), ("command_timeout", command_timeout),
                        ("deadline", deadline)):
        if value is None and name != "timeout":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigurationError(f"{name} must be a positive number of seconds, not"
                                     f" {value!r}", field=name)
    if cafile is not None and not Path(cafile).is_file():
        raise ConfigurationError(f"CA file {cafile} does not exist", field="cafile")
    checked_login = None if login is None else _check_login(login)
    name = local_hostname or default_local_hostname()
    Ehlo(name)  # validates the EHLO name now rather than on the wire
    try:
        verified = create_ssl_context(TLSSettings(verify=True, cafile=cafile))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"cannot load the CA file {cafile}: {exc}",
                                 field="cafile") from None
    unverified = create_ssl_context(TLSSettings(verify=False))
    limits = Limits.start(float(timeout), None if command_timeout is None
                          else float(command_timeout), None if deadline is None
                          else float(deadline))
    return _Options(host=host, timeout=float(timeout), limits=limits, verify=verify,
                    check_required=check_required, login=checked_login, local_hostname=name,
                    verified_context=verified if verify else unverified,
                    unverified_context=unverified, cafile=cafile)


def _check_login(login: tuple[str, str | Secret]) -> tuple[str, Secret]:
    """The (user, password) pair, the password held as a Secret from here on."""
    if (not isinstance(login, tuple) or len(login) != 2 or not isinstance(login[0], str)
            or not isinstance(login[1], str | Secret)):
        raise ConfigurationError("login must be a (user, password) pair", field="login")
    user, password = login[0], Secret(login[1])
    if not user:
        raise ConfigurationError("login user name is empty", field="login")
    if any(c in user for c in "\0\r\n"):
        raise ConfigurationError("login user name contains CR, LF or NUL", field="login")
    if any(c in password.reveal() for c in "\0\r\n"):
        # Never echo the value: it is the password.
        raise ConfigurationError("login password contains CR, LF or NUL", field="login")
    return user, password


def _check_ports(ports: Iterable[int]) -> list[int]:
    checked: list[int] = []
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError(f"{port!r} is not a TCP port (1-65535)", field="ports")
        if port not in checked:
            checked.append(port)
    if not checked:
        raise ConfigurationError("give at least one port to probe", field="ports")
    return checked


def _check_connect_to(
    connect_to: Mapping[int, tuple[str, int]], ports: list[int]
) -> dict[int, tuple[str, int]]:
    checked: dict[int, tuple[str, int]] = {}
    for configured, target in connect_to.items():
        if configured not in ports:
            raise ConfigurationError(f"connect_to names port {configured}, which is not probed",
                                     field="connect_to")
        if (not isinstance(target, tuple) or len(target) != 2 or not isinstance(target[0], str)
                or isinstance(target[1], bool) or not isinstance(target[1], int)
                or not 0 < target[1] < 65536):
            raise ConfigurationError(f"connect_to[{configured}] must be (host, port), "
                                     f"not {target!r}", field="connect_to")
        checked[configured] = target
    return checked


# -- one port ------------------------------------------------------------------------------


async def _probe_port(
    options: _Options, port: int, address: tuple[str, int]
) -> PortReport:
    plaintext, implicit = await asyncio.gather(
        _plaintext_attempt(options, port, address), _implicit_attempt(options, port, address)
    )
    facts = PortFacts(
        host=options.host, port=port, address=address, timeout=options.timeout,
        check_required=options.check_required, login_given=options.login is not None,
        verify=options.verify, plaintext=plaintext, implicit=implicit, cafile=options.cafile,
    )
    return build_port_report(facts)


def _connect_label(port: int, address: tuple[str, int]) -> str:
    where = f"{address[0]}:{address[1]}"
    return where if address[1] == port else f"{where} (configured port {port})"


async def _connect(options: _Options, address: tuple[str, int]) -> AsyncNetworkStream:
    """A plaintext TCP connection (errors propagate for the caller to classify)."""
    timeout = options.limits.within(options.timeout, connecting=True)
    return await open_async_stream(address[0], address[1], timeout=timeout)


def _classify_connect_error(exc: CdoMailError) -> tuple[Reach, str]:
    if isinstance(exc, ConnectTimeout):
        return Reach.TIMEOUT, "no TCP connection within the timeout (filtered, or host down)"
    if _refused(exc):
        return Reach.REFUSED, "connection refused: nothing listens on this port"
    return Reach.ERROR, str(exc)


def _refused(exc: CdoMailError) -> bool:
    """Every address of the host refused the connection."""
    cause = exc.__cause__
    if isinstance(cause, ConnectionRefusedError):
        return True
    # asyncio tries each address of a name (::1, then 127.0.0.1 for localhost) and reports
    # "Multiple exceptions: [Errno 111] ..., [Errno 111] ..." when all of them failed.
    codes = re.findall(r"\[Errno (\d+)\]", str(cause))
    return bool(codes) and all(int(code) == errno.ECONNREFUSED for code in codes)


# -- the plaintext attempt -------------------------------------------------------------------


async def _plaintext_attempt(
    options: _Options, port: int, address: tuple[str, int]
) -> PlaintextFacts:
    facts = PlaintextFacts()
    transcript = Transcript()
    facts.transcripts.append(("plaintext", transcript))
    transcript.event(f"connecting to {_connect_label(port, address)} in plaintext")
    started = time.monotonic()
    try:
        stream = await _connect(options, address)
    except (ConnectError, ConnectTimeout) as exc:
        facts.reach, facts.detail = _classify_connect_error(exc)
        transcript.event(facts.detail)
        return facts
    facts.reach = Reach.OK
    facts.connect_ms = round((time.monotonic() - started) * 1000, 1)
    transcript.event(f"connected in {facts.connect_ms} ms")
    plan = ObservePlan(options.local_hostname, implicit_tls=False,
                       check_required=options.check_required, credentials=options.login)
    session = ProbeSession(stream, transcript, options.limits, plan.connection)

    async def handshake(session: ProbeSession) -> bool:
        return await _starttls_handshake(session, options, facts, port, address)

    try:
        await session.run(plan, handshake)
        _record_plaintext(session, plan.seen, facts)
    except CdoMailError as exc:
        _record_plaintext(session, plan.seen, facts)
        facts.detail = _clean(f"the conversation broke off: {exc}")
        transcript.event(facts.detail)
    finally:
        await session.close()
    return facts


def _record_plaintext(session: ProbeSession, seen: Observation, facts: PlaintextFacts) -> None:
    """What the plaintext connection showed, in the port's facts."""
    _record_greeting(session, seen, facts)
    if seen.extensions_before_tls is not None:
        facts.extensions_before = seen.extensions_before_tls
        facts.starttls_offered = seen.extensions_before_tls.has("STARTTLS")
    if seen.mail_before_tls is not None:
        facts.mail_before_tls = _summary(seen.mail_before_tls)
    if seen.starttls_refused is not None:
        facts.starttls_refused = _summary(seen.starttls_refused)
    _record_in_tls(seen, facts)


def _record_in_tls(seen: Observation, facts: PlaintextFacts) -> None:
    # Only what this connection reached: after a failed verification the unverified
    # connection has recorded these already.
    if seen.extensions_in_tls is not None:
        facts.extensions_after = seen.extensions_in_tls
    if seen.login is not None:
        facts.login = _login_result(seen)


def _record_greeting(
    session: ProbeSession, seen: Observation, facts: PlaintextFacts | ImplicitFacts
) -> None:
    """What the greeting was (an SMTP 220, a refusal, silence, something else)."""
    failure = seen.greeting_failure
    if seen.greeting is not None:
        facts.greeting_text = _clean(str(seen.greeting))
        if seen.greeting.code == 220:
            facts.greeting = Greeting.SMTP
            return
        facts.greeting = Greeting.REFUSED
        facts.detail = f"the server refused service: {facts.greeting_text}"
    elif isinstance(failure, ReadTimeout):
        facts.greeting = Greeting.SILENT
        facts.detail = "no greeting within the timeout"
    elif isinstance(failure, ServerDisconnected):
        facts.greeting = Greeting.NOT_SMTP if session.first_bytes else Greeting.CLOSED
        facts.detail = "the server closed the connection without an SMTP greeting"
    elif failure is not None:
        facts.greeting = Greeting.NOT_SMTP
        facts.detail = f"not an SMTP greeting: {escape(session.first_bytes[:80])}"
    else:
        return  # the conversation broke off before the greeting was read
    session.transcript.event(facts.detail)


def _summary(reply: Reply) -> ReplySummary:
    return ReplySummary(reply.code, _clean(reply.text))


def _login_result(seen: Observation) -> LoginResult | None:
    if seen.login is None:
        return None
    status, detail = seen.login
    return LoginResult(status, _clean(detail))


async def _starttls_handshake(
    session: ProbeSession, options: _Options, facts: PlaintextFacts, port: int,
    address: tuple[str, int],
) -> bool:
    """The handshake after a 220 to STARTTLS, its facts recorded; False when it failed."""
    try:
        await session.start_tls(options.verified_context, options.host)
    except ssl.SSLCertVerificationError as exc:
        failure = verify_reason(exc)
        session.transcript.event(f"certificate verification failed: {failure[1]}")
        facts.handshake = Handshake.VERIFY_FAILED
        facts.verify_failure = failure
        await _starttls_unverified(options, facts, port, address, failure)
        return False
    except (ssl.SSLError, ConnectionError) as exc:
        facts.handshake = Handshake.NOT_TLS
        facts.detail = _clean(str(diagnose_handshake(exc, host=options.host, port=port,
                                                     mode=TLSMode.STARTTLS)))
        session.transcript.event(facts.detail)
        return False
    except (TimeoutError, ServerDisconnected) as exc:
        facts.handshake = (Handshake.SILENT if isinstance(exc, TimeoutError)
                           else Handshake.NOT_TLS)
        facts.detail = _clean(f"STARTTLS handshake failed: {exc}")
        session.transcript.event(facts.detail)
        return False
    facts.handshake = Handshake.OK
    _record_tls(session, facts, verified=options.verify or None)
    return True


def _record_tls(
    session: ProbeSession, facts: PlaintextFacts, *, verified: bool | None,
    failure: tuple[str, str] | None = None,
) -> None:
    ssl_object = session.stream.ssl_object
    if ssl_object is not None:
        facts.tls, facts.certificate = session_details(ssl_object, "starttls",
                                                       verified=verified, failure=failure)
        session.transcript.event(f"TLS established: {facts.tls.version} {facts.tls.cipher}",
                                 tls=True)


async def _starttls_unverified(
    options: _Options, facts: PlaintextFacts, port: int, address: tuple[str, int],
    failure: tuple[str, str],
) -> None:
    """Again, without verification, only to read the certificate and the TLS capabilities."""
    transcript = Transcript()
    facts.transcripts.append(("plaintext, again without verification", transcript))
    transcript.event(f"connecting to {_connect_label(port, address)} to read the certificate")
    try:
        stream = await _connect(options, address)
    except (ConnectError, ConnectTimeout) as exc:
        transcript.event(str(exc))
        return
    plan = ObservePlan(options.local_hostname, implicit_tls=False,
                       credentials=options.login, certificate_failed=True)
    session = ProbeSession(stream, transcript, options.limits, plan.connection)

    async def handshake(session: ProbeSession) -> bool:
        await session.start_tls(options.unverified_context, options.host)
        _record_tls(session, facts, verified=False, failure=failure)
        return True

    try:
        _record_in_tls(await session.run(plan, handshake), facts)
    except (CdoMailError, ssl.SSLError, ConnectionError) as exc:
        _record_in_tls(plan.seen, facts)
        transcript.event(_clean(f"the unverified attempt failed: {exc}"))
    finally:
        await session.close()


# -- the implicit-TLS attempt ---------------------------------------------------------------


async def _implicit_attempt(
    options: _Options, port: int, address: tuple[str, int]
) -> ImplicitFacts:
    facts = ImplicitFacts()
    transcript = Transcript()
    facts.transcripts.append(("implicit TLS", transcript))
    transcript.event(f"connecting to {_connect_label(port, address)} with TLS from the first byte")
    stream, failure = await _open_implicit(options, port, address, options.verified_context,
                                           facts, transcript)
    if failure is not None:
        transcript = Transcript()
        facts.transcripts.append(("implicit TLS, again without verification", transcript))
        transcript.event(f"connecting to {_connect_label(port, address)} to read the certificate")
        stream, _ = await _open_implicit(options, port, address, options.unverified_context,
                                         facts, transcript)
        facts.handshake = Handshake.VERIFY_FAILED
        facts.verify_failure = failure
        facts.detail = f"certificate verification failed: {failure[1]}"
    if stream is None:
        return facts
    if failure is None:
        facts.handshake = Handshake.OK
    verified = False if failure else (options.verify or None)
    ssl_object = stream.ssl_object
    if ssl_object is not None:
        facts.tls, facts.certificate = session_details(ssl_object, "implicit",
                                                       verified=verified, failure=failure)
        transcript.event(f"TLS established: {facts.tls.version} {facts.tls.cipher}", tls=True)
    plan = ObservePlan(options.local_hostname, implicit_tls=True, credentials=options.login,
                       certificate_failed=failure is not None)
    session = ProbeSession(stream, transcript, options.limits, plan.connection)
    try:
        await session.run(plan)
        _record_implicit(session, plan.seen, facts)
    except CdoMailError as exc:
        _record_implicit(session, plan.seen, facts)
        facts.detail = _clean(f"the conversation broke off: {exc}")
        transcript.event(facts.detail, tls=True)
    finally:
        await session.close()
    return facts


def _record_implicit(session: ProbeSession, seen: Observation, facts: ImplicitFacts) -> None:
    _record_greeting(session, seen, facts)
    if seen.extensions_in_tls is not None:
        facts.extensions = seen.extensions_in_tls
    facts.login = _login_result(seen)


async def _open_implicit(
    options: _Options, port: int, address: tuple[str, int], context: ssl.SSLContext,
    facts: ImplicitFacts, transcript: Transcript,
) -> tuple[AsyncNetworkStream | None, tuple[str, str] | None]:
    """Connect and handshake; ``(stream, None)``, ``(None, verify failure)`` or ``(None, None)``."""
    try:
        timeout = options.limits.within(options.timeout, connecting=True)
        stream = await open_async_stream(address[0], address[1], timeout=timeout,
                                         ssl_context=context, server_hostname=options.host)
    except ssl.SSLCertVerificationError as exc:
        failure = verify_reason(exc)
        transcript.event(f"certificate verification failed: {failure[1]}")
        return None, failure
    except ssl.SSLError as exc:
        facts.handshake = Handshake.NOT_TLS
        facts.detail = _clean(str(diagnose_handshake(exc, host=options.host, port=port,
                                                     mode=TLSMode.IMPLICIT)))
    except ConnectTimeout:
        facts.handshake = Handshake.SILENT
        facts.detail = "no TLS handshake within the timeout"
    except ConnectError as exc:
        refused = _refused(exc)
        facts.handshake = Handshake.NOT_ATTEMPTED if refused else Handshake.NOT_TLS
        facts.detail = _clean(str(exc) if refused else
                              f"the connection failed during the TLS handshake: {exc}")
    else:
        return stream, None
    transcript.event(facts.detail)
    return None, None


def _clean(text: str) -> str:
    """Server-supplied text made safe for a terminal (no control or ANSI sequences)."""
    return escape(text.encode("utf-8", "replace"))
