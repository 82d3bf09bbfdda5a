"""Shared test configuration: load the lab fixtures even when cdomail is not installed."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

from hypothesis import settings

# When cdomail is installed, pytest already loads the plugin through its pytest11
# entry point; registering it a second time would be an error.
if not any(ep.value == "cdomail.testing.pytest_plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["cdomail.testing.pytest_plugin"]

# Hypothesis: under CI the examples are derived from each test (derandomize), so a CI run
# repeats exactly the run made before submitting; locally every run explores new examples.
# A divergence found locally is a bug to fix, not to hide: CI only stops being a lottery.
if os.environ.get("CI") == "true":
    settings.register_profile("ci", derandomize=True, database=None)
    settings.load_profile("ci")
