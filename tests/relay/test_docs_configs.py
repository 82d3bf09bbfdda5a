"""The example configurations in the README and docs/relay.md are valid as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cdomail.relay.config import parse_config

ROOT = Path(__file__).resolve().parents[2]


def _toml_blocks(path: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)


@pytest.mark.parametrize(("document", "expected_hosts"), [
    ("README.md", ["smtp.office365.com", "smtp.gmail.com"]),
    ("docs/relay.md", ["smtp.office365.com"]),
])
def test_documented_examples_load(document: str, expected_hosts: list[str]) -> None:
    blocks = _toml_blocks(ROOT / document)
    relay_blocks = [b for b in blocks if "[upstream]" in b]
    configs = [parse_config(block, source=document) for block in relay_blocks]
    assert [c.upstream.host for c in configs] == expected_hosts
    for config in configs:
        assert config.upstream.auth == "xoauth2" and config.upstream.oauth2 is not None
        assert config.upstream.oauth2.token_url.startswith("https://")
