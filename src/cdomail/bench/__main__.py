"""``python -m cdomail.bench``: the throughput benchmark of issues 6 and 13.

Needs Postfix's ``smtp-sink``/``smtp-source`` (Debian: ``apt-get install postfix``) and the
``bench`` extra (aiosmtplib, matplotlib). Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from cdomail.bench._scenarios import SCENARIOS, BenchConfig, run_benchmark
from cdomail.bench._sink import PostfixToolMissing, find_postfix_tool

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (kept separate so docs and tests can inspect it)."""
    def short(title: str) -> str:  # the help names the defaults the titles are built from
        return title.split(",")[0].format(rtt="20", connections="8", attachment_mb="50")

    keys = ", ".join(f"{s.key} ({short(s.title)})" for s in SCENARIOS)
    parser = argparse.ArgumentParser(
        prog="python -m cdomail.bench",
        description=(
            "Measure cdomail against smtplib, aiosmtplib and Postfix smtp-source on one "
            "Postfix smtp-sink on loopback, with an added round trip where a scenario asks "
            "for one, and check the ratios of issue 6."
        ),
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="tiny message counts and a 1 MiB attachment: checks the harness, not speed",
    )  # fmt: skip
    parser.add_argument(
        "--scenario", action="append", choices=[s.key for s in SCENARIOS], metavar="N",
        help=f"run only this scenario (repeatable); scenarios: {keys}",
    )  # fmt: skip
    parser.add_argument("--rtt-ms", type=float, default=20.0,
                        help="round trip added by the delay proxy (default 20)")  # fmt: skip
    parser.add_argument("--connections", type=int, default=8,
                        help="concurrent connections in scenario 3 (default 8)")  # fmt: skip
    parser.add_argument("--attachment-mb", type=float, default=50.0,
                        help="attachment size in scenario 5, MiB (default 50)")  # fmt: skip
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every message count by this (default 1)")  # fmt: skip
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="run each contestant N times, in rotation, and keep its best (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, metavar="PATH",
        help="write the report as Markdown to PATH, and its chart beside it (PATH with .png)",
    )  # fmt: skip
    parser.add_argument(
        "--write-docs", action="store_true",
        help="shortcut for --output docs/benchmarks.md of the cdomail checkout containing the "
        "current directory",
    )  # fmt: skip
    return parser


def docs_report_path(start: Path) -> Path:
    """``docs/benchmarks.md`` of the cdomail checkout that holds ``start`` (for --write-docs)."""
    for directory in (start, *start.parents):
        project = directory / "pyproject.toml"
        if project.is_file() and 'name = "cdomail"' in project.read_text(encoding="utf-8"):
            return directory / "docs" / "benchmarks.md"
    raise FileNotFoundError(
        f"--write-docs: {start} is not inside a cdomail checkout; use --output PATH"
    )


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.rtt_ms < 0:
        parser.error(f"--rtt-ms must be >= 0, got {args.rtt_ms:g}")
    if args.connections < 1:
        parser.error(f"--connections must be >= 1, got {args.connections}")
    if args.attachment_mb <= 0:
        parser.error(f"--attachment-mb must be > 0, got {args.attachment_mb:g}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.scale <= 0:
        parser.error(f"--scale must be > 0, got {args.scale:g}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 0 when no target failed, 1 when one did, 2 on setup errors."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    try:
        find_postfix_tool("smtp-sink")
        find_postfix_tool("smtp-source")
    except PostfixToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from cdomail.bench._report import print_results, render_markdown, write_chart

    output: Path | None = args.output
    if args.write_docs:
        try:
            output = docs_report_path(Path.cwd())
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    config = BenchConfig(
        quick=args.quick,
        rtt_ms=args.rtt_ms,
        connections=args.connections,
        attachment_mb=args.attachment_mb,
        scale=args.scale,
        repeat=args.repeat,
        scenarios=tuple(args.scenario or [s.key for s in SCENARIOS]),
    )
    results = run_benchmark(config)
    all_met = print_results(results)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        chart = output.with_suffix(".png")
        write_chart(results, chart)
        shown = ["python", "-m", "cdomail.bench", *(argv if argv is not None else sys.argv[1:])]
        markdown = render_markdown(results, shlex.join(shown), chart.name)
        output.write_text(markdown, encoding="utf-8")
        print(f"wrote {output} and {chart}")
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
