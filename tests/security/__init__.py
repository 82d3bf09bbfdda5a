"""The security and robustness suite: STARTTLS stripping, hostile replies, faults, transactions,
authentication and what the client emits, against the real cdomail client talking to the hostile
server on loopback."""

from __future__ import annotations
