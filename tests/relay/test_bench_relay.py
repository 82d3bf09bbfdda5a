"""The relay benchmark's harness runs both relays end to end (tiny counts: not a speed test)."""

from __future__ import annotations

import pytest

from cdomail.bench.relay import main
from tests.interop._programs import require_program, require_root

pytestmark = pytest.mark.slow


def test_both_relays_deliver_every_message_to_the_sink(capsys: pytest.CaptureFixture[str]) -> None:
    for program in ("smtp-sink", "smtp-source", "postfix"):
        require_program(program)
    require_root("the private Postfix relay")
    assert main(["--messages", "30", "--sessions", "2", "--timeout", "60"]) == 0
    table = capsys.readouterr().out
    for name in ("cdomail relay", "Postfix relay"):
        (line,) = [row for row in table.splitlines() if row.startswith(name)]
        assert "did not run" not in line and " 30 " in line and "median" in line
    assert "cdomail / Postfix end-to-end:" in table
