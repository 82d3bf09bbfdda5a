"""The security and robustness suite: one test per case of security-cases.md, against the
real cdomail client talking to the hostile server on loopback."""

from __future__ import annotations
