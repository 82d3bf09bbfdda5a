"""``cdomail relay``: a durable bridge from legacy senders to a modern, encrypted upstream.

Intake (``listener``) stores each message in the ``spool`` before answering 250; delivery
takes due messages from the spool and sends them upstream. See docs/relay.md.
"""

from __future__ import annotations
