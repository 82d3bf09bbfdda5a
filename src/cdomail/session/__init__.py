"""The session layer: what an SMTP client says and decides, with no I/O.

Between the sans-IO core (``protocol``: bytes <-> commands and replies) and the drivers
(``_async``/``_sync`` clients over ``_backends``): plans that yield steps (open, send,
receive, upgrade to TLS, close) and decide every policy on the way. Imports no socket,
ssl, asyncio, selectors or threading (``tests/session/test_layers.py``).
"""

from __future__ import annotations

from ._arguments import check_ehlo_name
from ._authenticate import sasl_steps
from ._clock import Clock
from ._config import ClientConfig, effective_tls_mode, hide_secrets
from ._connect import ConnectPlan
from ._observe import Observation, ObservePlan
from ._steps import Close, Note, Open, Plan, Receive, Send, Step, UpgradeTLS, Write
from ._transaction import SessionFeatures, Transaction, unsent_result

__all__ = ["ClientConfig", "Clock", "Close", "ConnectPlan", "Note", "Observation", "ObservePlan",
           "Open", "Plan", "Receive", "Send", "SessionFeatures", "Step", "Transaction",
           "UpgradeTLS", "Write", "check_ehlo_name", "effective_tls_mode", "hide_secrets",
           "sasl_steps", "unsent_result"]
