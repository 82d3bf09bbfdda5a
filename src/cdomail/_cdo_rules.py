"""CDO's port rule and how CDO reads configuration field values -- the one copy.

Everything that needs to know what CDO (CDOSYS) does with ``smtpusessl`` and
``smtpserverport``, or how CDO turns a field's VARIANT value into a number or a boolean, calls
this module: ``tls.TLSMode.CDO``, ``ClientConfig.build(tls="cdo")``, ``cdo.configuration``
(what ``Message.Send`` reads), ``probe`` (its CDO predictions) and ``cdo.explain``. No I/O and
no imports beyond the error tree, so any layer may use it.

The port rule (cdo.md §1): CDO has one encryption switch, ``smtpusessl``. With it False CDO
never encrypts; with it True the *configured* port decides: 25 means plaintext connect then
STARTTLS (RFC 3207), every other port means TLS from the first byte (RFC 8314 §3.3).
CDO's default port is 25.

Field values (cdo.md §2). CDO stores whatever VARIANT the caller assigns and converts it when
it reads the field, with the OLE Automation conversions (``VariantChangeType``). We reproduce
those conversions and refuse, before any byte is sent, a value COM itself could not convert:

* Booleans (``smtpusessl`` ...): a boolean is itself; a number is True when non-zero
  (VARIANT_TRUE is -1, so ``-1``, ``1`` and ``2`` are all True); a string is trimmed and then
  ``"true"``/``"false"`` in any case, or a number written as text (``"-1"``, ``"2"``, ``"0"``).
  Anything else -- ``"on"``, ``"yes"``, ``"off"``, ``"no"`` -- is a type mismatch in COM
  (``VarBoolFromStr`` knows no such words), so it is a :class:`ConfigurationError` here rather
  than a guess: a guess of True would claim an encryption CDO may not do.
* Whole numbers (``smtpserverport``, ``sendusing``, ``smtpauthenticate``, timeouts): a number;
  a boolean as VARIANT_BOOL (True is -1); a non-integral number rounds half to even, as
  ``VarI4FromR8`` does (Python's :func:`round` rounds the same way); a string holding a number
  (``"465"``, ``" 25 "``, ``"25.0"``). Other strings are a type mismatch.
* Not set: ``None`` (VT_EMPTY) and an empty or blank string mean "not set", so the field's
  default applies (CDO's own configuration UI writes empty strings for fields left blank).
* Defaults: ``smtpserverport`` 25, ``smtpusessl`` False, ``smtpauthenticate`` 0 (anonymous),
  ``smtpconnectiontimeout`` 30 (0 or a negative value also means 30), ``sendusing`` none
  (``Message.Send`` then raises 0x80040220). Valid ``sendusing`` values are 1 (pickup) and 2
  (port); 3 (``cdoSendUsingExchange``) needs Exchange and, like anything else, is reported by
  the caller as 0x80040220.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from .errors import ConfigurationError

__all__ = [
    "CDO_DEFAULT_PORT",
    "CDO_DEFAULT_TIMEOUT",
    "CDO_STARTTLS_PORT",
    "SEND_USING_PICKUP",
    "SEND_USING_PORT",
    "Encryption",
    "cdo_encryption",
    "cdo_tls_for_port",
    "coerce_bool",
    "coerce_int",
    "is_unset",
    "read_authenticate",
    "read_port",
    "read_send_using",
    "read_timeout",
    "read_use_ssl",
]

#: CDO's ``smtpserverport`` when the field is not set (cdo.md §2).
CDO_DEFAULT_PORT = 25
#: The one configured port on which ``smtpusessl=True`` means STARTTLS (cdo.md §1).
CDO_STARTTLS_PORT = 25
#: ``smtpconnectiontimeout`` when not set, in seconds (cdo.md §2).
CDO_DEFAULT_TIMEOUT = 30
SEND_USING_PICKUP = 1
SEND_USING_PORT = 2

Encryption = Literal["none", "starttls", "implicit"]

_TRUE_WORDS = frozenset({"true"})
_FALSE_WORDS = frozenset({"false"})


def cdo_tls_for_port(port: int) -> Literal["starttls", "implicit"]:
    """What ``smtpusessl=True`` does on configured *port*: STARTTLS on 25, else implicit TLS."""
    return "starttls" if port == CDO_STARTTLS_PORT else "implicit"


def cdo_encryption(use_ssl: bool, port: int) -> Encryption:
    """CDO's whole encryption rule: ``"none"``, ``"starttls"`` or ``"implicit"``."""
    return cdo_tls_for_port(port) if use_ssl else "none"


def is_unset(value: Any) -> bool:
    """Whether a stored field value means "not set" (``None``, or an empty/blank string)."""
    return value is None or (isinstance(value, str) and not value.strip())


def coerce_bool(name: str, value: Any) -> bool:
    """A VARIANT read as a boolean, as COM converts it (see the module docstring).

    Raises:
        ConfigurationError: a value COM cannot convert (``"on"``, ``"yes"``, a list ...).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_WORDS:
            return True
        if text in _FALSE_WORDS:
            return False
        number = _parse_number(text)
        if number is not None:
            return number != 0
    raise ConfigurationError(
        f"{name} must be True or False (or a number, -1/1 true, 0 false), not {value!r}: "
        "COM cannot read that as a boolean",
        field=name,
    )


def coerce_int(name: str, value: Any) -> int:
    """A VARIANT read as a whole number, as COM converts it (see the module docstring).

    Raises:
        ConfigurationError: a value COM cannot convert (``"abc"``, ``"25 port"`` ...).
    """
    if isinstance(value, bool):
        return -1 if value else 0  # VARIANT_TRUE
    if isinstance(value, int):
        return value
    number: float | None = None
    if isinstance(value, float):
        number = value
    elif isinstance(value, str):
        number = _parse_number(value.strip())
    if number is not None and math.isfinite(number):
        return round(number)  # half to even, as VarI4FromR8
    raise ConfigurationError(f"{name} must be a whole number, not {value!r}", field=name)


def _parse_number(text: str) -> float | None:
    if not text or text.lower() in ("nan", "inf", "-inf", "+inf", "infinity"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def read_use_ssl(value: Any) -> bool:
    """``smtpusessl``: default False."""
    return False if is_unset(value) else coerce_bool("smtpusessl", value)


def read_port(value: Any) -> int:
    """``smtpserverport``: default 25; must be a TCP port.

    Raises:
        ConfigurationError: not a number, or outside 1-65535.
    """
    if is_unset(value):
        return CDO_DEFAULT_PORT
    port = coerce_int("smtpserverport", value)
    if not 0 < port < 65536:
        raise ConfigurationError(f"smtpserverport {port} is not a TCP port",
                                 field="smtpserverport")
    return port


def read_send_using(value: Any) -> int | None:
    """``sendusing``: ``None`` when not set; callers reject anything but 1 and 2 (0x80040220)."""
    return None if is_unset(value) else coerce_int("sendusing", value)


def read_authenticate(value: Any) -> int:
    """``smtpauthenticate``: default 0 (anonymous); 1 basic, 2 NTLM."""
    return 0 if is_unset(value) else coerce_int("smtpauthenticate", value)


def read_timeout(value: Any) -> int:
    """``smtpconnectiontimeout`` in seconds: default 30; 0 or negative also means 30."""
    if is_unset(value):
        return CDO_DEFAULT_TIMEOUT
    seconds = coerce_int("smtpconnectiontimeout", value)
    return seconds if seconds > 0 else CDO_DEFAULT_TIMEOUT
