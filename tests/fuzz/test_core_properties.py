"""The fuzz properties under pytest, with a modest example count (the fuzz script runs more)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from .properties import PROPERTIES, Property


@pytest.mark.parametrize("prop", PROPERTIES, ids=[p.name for p in PROPERTIES])
def test_property(prop: Property) -> None:
    run = given(*prop.strategies)(prop.check)
    settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )(run)()
