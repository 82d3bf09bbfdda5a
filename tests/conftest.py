"""Shared test configuration: load the lab fixtures even when cdomail is not installed."""

from __future__ import annotations

from importlib.metadata import entry_points

# When cdomail is installed, pytest already loads the plugin through its pytest11
# entry point; registering it a second time would be an error.
if not any(ep.value == "cdomail.testing.pytest_plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["cdomail.testing.pytest_plugin"]
