"""Fixtures for the interop tests: a private Postfix instance and a cdomail lab."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ._labtools import LAB_PASSWORD, LAB_USER
from ._postfix import PostfixInstance, running_postfix
from ._programs import find_program, require_program, require_root

if TYPE_CHECKING:
    from cdomail.lab import Lab


@pytest.fixture(scope="session")
def postfix() -> Iterator[PostfixInstance]:
    """A private Postfix (plain / starttls / starttls-required / smtps) for the whole session.

    Skips locally, and fails under ``CI=true``, when Postfix is missing or we are not root.
    """
    postfix_command = require_program("postfix")
    require_program("postconf")
    require_root("the private Postfix instance")
    # Without Cyrus's saslpasswd2 the instance still runs, without AUTH; the AUTH tests then
    # call require_program("saslpasswd2") themselves so CI reports the gap.
    saslpasswd2 = find_program("saslpasswd2")
    with running_postfix(postfix=postfix_command, saslpasswd2=saslpasswd2) as instance:
        yield instance


@pytest.fixture(scope="session")
def interop_lab() -> Iterator[Lab]:
    """The cdomail lab (all four listeners, one user) for the real-client tests."""
    # Imported here so the Postfix tests still run while the package is mid-edit.
    from cdomail.lab import Lab

    with Lab(users={LAB_USER: LAB_PASSWORD}) as lab:
        yield lab
