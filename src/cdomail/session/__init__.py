"""The session layer: what an SMTP client says and decides, with no I/O.

Between the sans-IO core (``protocol``: bytes <-> commands and replies) and the drivers
(``_async``/``_sync`` clients over ``_backends``): plans that yield steps (open, send,
receive, upgrade to TLS, close) and decide every policy on the way. Imports no socket,
ssl, asyncio, selectors or threading (``tests/session/test_layers.py``).
"""

from __future__ import annotations

from ._connect import ConnectPlan
from ._steps import Close, Note, Open, Plan, Receive, Send, Step, UpgradeTLS

__all__ = ["Close", "ConnectPlan", "Note", "Open", "Plan", "Receive", "Send", "Step",
           "UpgradeTLS"]
