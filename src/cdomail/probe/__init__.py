"""``cdomail probe``: what a mail server really supports on each port, and what CDO will do there.

::

    report = await probe("mail.example.com", ports=(25, 465, 587), timeout=10)
    report.port(587).verdict            # Verdict.STARTTLS
    report.port(587).cdo_usessl_true    # CdoPrediction(outcome="error", 0x80040213 immediate)
    print(report.to_json())

Every port is probed at once, each with a plaintext and an implicit-TLS
connection side by side, so the whole probe takes about one timeout. By
default only greeting, EHLO, STARTTLS and QUIT are sent: never MAIL, RCPT or
DATA (``check_required`` adds ``MAIL FROM:<>`` + RSET), and AUTH only with
``login`` and only inside TLS.
"""

from __future__ import annotations

from .._extras import require

# Certificates are read with cryptography: without the extra, one line saying which to install.
require("probe", "cryptography")

from ..tls import TLSInfo  # noqa: E402
from ._advice import CDO_CANNOT, Recommendation, Verdict  # noqa: E402
from ._cdo_rule import CdoPrediction  # noqa: E402
from ._facts import CertificateInfo, LoginResult, ReplySummary  # noqa: E402
from ._probe import DEFAULT_PORTS, DEFAULT_TIMEOUT, probe, probe_sync  # noqa: E402
from ._report import PortReport, ProbeReport  # noqa: E402

__all__ = [
    "CDO_CANNOT",
    "DEFAULT_PORTS",
    "DEFAULT_TIMEOUT",
    "CdoPrediction",
    "CertificateInfo",
    "LoginResult",
    "PortReport",
    "ProbeReport",
    "Recommendation",
    "ReplySummary",
    "TLSInfo",
    "Verdict",
    "probe",
    "probe_sync",
]
