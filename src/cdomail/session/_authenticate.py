"""The SASL exchange as steps (RFC 4954 §4): one loop for the client and the probe."""

from __future__ import annotations

from collections.abc import Callable

from ..protocol import Authenticator, Command, Reply, sasl_dialogue
from ._steps import Plan


def sasl_steps(authenticator: Authenticator,
               exchange: Callable[[Command], Plan[Reply]]) -> Plan[Reply]:
    """Run ``authenticator``'s dialogue, each command through ``exchange`` (the caller's
    send-and-receive, which decides what a 421 means); returns the final reply (235 on
    success, RFC 4954 §6)."""
    dialogue = sasl_dialogue(authenticator)
    command = next(dialogue)
    while True:
        reply = yield from exchange(command)
        try:
            command = dialogue.send(reply)
        except StopIteration as finished:
            final: Reply = finished.value
            return final
