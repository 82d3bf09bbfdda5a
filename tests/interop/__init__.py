"""Interoperability tests: cdomail against software nobody here wrote (issue 7)."""

from __future__ import annotations
