"""`cdomail explain` over the corpus of real-world-style CDO snippets in ``explain_corpus/``.

Each snippet's expected verdict is written by hand in ``explain_corpus/expected.toml`` from the
CDO rules; the header of each snippet names its source and licence.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cdomail.cdo.explain import explain_text

CORPUS = Path(__file__).parent / "explain_corpus"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text())
#: The placeholder every corpus snippet uses for a password: it must never be printed.
SECRET = "S3cret-corpus"


def test_corpus_is_complete() -> None:
    snippets = sorted(p.name for p in CORPUS.iterdir() if p.name != "expected.toml")
    assert len(snippets) >= 30
    assert sorted(EXPECTED) == snippets


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_verdict(name: str) -> None:
    expected = EXPECTED[name]
    report = explain_text((CORPUS / name).read_text(encoding="utf-8"), filename=name)
    data = report.to_dict()
    assert data["verdict"] == expected["verdict"], report.to_text()
    if expected["verdict"] == "encrypted":
        assert data["encrypted"] is True
        assert data["encryption"] == expected["encryption"]
    else:
        assert data["encrypted"] is (False if expected["verdict"] == "plaintext" else None)
    if "hresult" in expected:
        assert data["hresult"] == (expected["hresult"] or None)
    names = {str(entry["name"]).lower() for entry in data["depends_on"]}
    for needed in expected.get("depends_on", []):
        assert needed.lower() in names, data["depends_on"]
    if "with_defaults" in expected:
        assert data["verdict_with_defaults"] == expected["with_defaults"]
    kinds = {p["kind"] for p in data["problems"]}
    assert set(expected.get("problems", [])) <= kinds, kinds


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_never_prints_a_password(name: str) -> None:
    report = explain_text((CORPUS / name).read_text(encoding="utf-8"), filename=name)
    assert SECRET not in report.to_text()
    assert SECRET not in json.dumps(report.to_dict())
