"""Standalone fuzz run of cdomail's reply parser, DATA encoder and command/header builders.

Run from the repository root (exits non-zero on the first failing property, printing the
minimal counterexample hypothesis found)::

    .venv/bin/python tests/fuzz/fuzz_core.py --examples 200000

``--only NAME`` runs one property (names are listed by ``--list``); ``--seed`` makes a run
repeatable. The same properties run with a small example count in ``test_core_properties.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent.parent
sys.path[:0] = [str(_ROOT), str(_ROOT / "src")]

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.fuzz.properties import PROPERTIES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run every (or one) property for ``--examples`` examples; 0 when all hold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200_000)
    parser.add_argument("--only", default=None, help="run just this property")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--list", action="store_true", help="list property names and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(p.name for p in PROPERTIES))
        return 0
    selected = [p for p in PROPERTIES if args.only in (None, p.name)]
    if not selected:
        parser.error(f"no property named {args.only!r}")
    failed = 0
    for prop in selected:
        run = given(*prop.strategies)(prop.check)
        if args.seed is not None:
            run = seed(args.seed)(run)
        run = settings(
            max_examples=args.examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )(run)
        started = time.monotonic()
        try:
            run()
        except Exception as error:  # report every property, then fail the run
            failed += 1
            traceback.print_exception(error, limit=-3)
            print(f"FAIL {prop.name}: {type(error).__name__}: {error}", flush=True)
        else:
            took = time.monotonic() - started
            print(f"ok   {prop.name}: {args.examples} examples in {took:.1f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
