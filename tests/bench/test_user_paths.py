"""The issue 13 scenarios of the benchmark: EmailMessage, one-shot and CDO contestants, the
system-store TLS front, per-round figures and paired ratios, and where the report goes.

Small counts, real sink; nothing here asserts that anything is fast.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdomail.bench.__main__ import docs_report_path, main
from cdomail.bench._contestants import Endpoint, RunFunction, make_messages
from cdomail.bench._proxy import ProxyProcess
from cdomail.bench._registry import CONTESTANTS, SCENARIOS, TARGETS
from cdomail.bench._scenarios import (
    BenchConfig,
    BenchResults,
    Measurement,
    evaluate_targets,
    run_benchmark,
)
from cdomail.bench._sink import PostfixToolMissing, SmtpSink, find_postfix_tool
from cdomail.bench._tls import make_certificates, system_bundle_with, trusted_by_default
from cdomail.bench._user_paths import (
    make_email_messages,
    run_aiosmtplib_send_message,
    run_cdo_send,
    run_cdomail_async_email,
    run_cdomail_email,
    run_cdomail_one_shot,
    run_smtplib_one_shot,
    run_smtplib_send_message,
)

try:
    find_postfix_tool("smtp-sink")
    HAVE_POSTFIX = True
except PostfixToolMissing:
    HAVE_POSTFIX = False

needs_postfix = pytest.mark.skipif(not HAVE_POSTFIX, reason="Postfix smtp-sink missing")
NEW_KEYS = ("6", "7", "8", "9", "10", "11")


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    if not HAVE_POSTFIX:
        pytest.skip("Postfix smtp-sink missing")
    with SmtpSink() as running:
        yield running


def test_the_registry_holds_the_new_scenarios_with_targets_and_contestants() -> None:
    keys = [scenario.key for scenario in SCENARIOS]
    assert keys[:5] == ["1", "2", "3", "4", "5"] and set(NEW_KEYS) <= set(keys)
    for key in NEW_KEYS:
        scenario = next(s for s in SCENARIOS if s.key == key)
        assert all(name in CONTESTANTS for name in scenario.contestants)
        (target,) = [t for t in TARGETS if t.scenario == key]
        assert target.paired and target.cdomail in scenario.contestants
    assert [t.ratio for t in TARGETS if t.scenario in ("6", "7")] == [3.0, 3.0]


def test_email_messages_are_distinct_and_built_with_the_api() -> None:
    first, second = make_email_messages(2)
    assert first["Message-ID"] != second["Message-ID"]
    assert first.get_content_type() == "text/plain" and len(first.get_content()) == 1024


@needs_postfix
@pytest.mark.parametrize(
    "run",
    [run_cdomail_email, run_smtplib_send_message, run_cdomail_async_email,
     run_aiosmtplib_send_message, run_cdomail_one_shot, run_smtplib_one_shot, run_cdo_send],
)
def test_contestant_delivers_every_message_in_plaintext(sink: SmtpSink, run: RunFunction) -> None:
    before = sink.messages_received()
    elapsed = run(Endpoint(sink.host, sink.port), make_messages(5), 1)
    assert elapsed > 0
    assert sink.wait_for_messages(before + 5) == before + 5


@needs_postfix
def test_one_shot_contestants_trust_the_front_through_the_system_store(
    sink: SmtpSink, tmp_path: Path
) -> None:
    certs = make_certificates(tmp_path / "tls")
    bundle = system_bundle_with(certs.ca_path, tmp_path)
    # The real store plus one CA: loading it costs what the system store costs.
    assert bundle.stat().st_size > certs.ca_path.stat().st_size * 10
    with ProxyProcess(sink.host, sink.port, certfile=str(certs.cert_chain_path),
                      keyfile=str(certs.key_path)) as front:  # fmt: skip
        endpoint = Endpoint("127.0.0.1", front.port, implicit_tls=True)  # no CA file given
        before = sink.messages_received()
        with trusted_by_default(bundle):
            assert os.environ["SSL_CERT_FILE"] == str(bundle)
            for run in (run_cdomail_one_shot, run_smtplib_one_shot, run_cdo_send):
                run(endpoint, make_messages(2), 1)
        assert os.environ.get("SSL_CERT_FILE") != str(bundle)
        # Without the bundle the front is not trusted: the trust really came from the store.
        with pytest.raises(ssl.SSLCertVerificationError):
            run_smtplib_one_shot(endpoint, make_messages(1), 1)
    assert sink.wait_for_messages(before + 6) == before + 6


@needs_postfix
def test_quick_run_of_the_new_scenarios_keeps_every_round(tmp_path: Path) -> None:
    config = BenchConfig(quick=True, repeat=2, scenarios=NEW_KEYS, sink_rate_messages=100)
    results = run_benchmark(config, progress=lambda _line: None)
    assert {m.scenario for m in results.measurements} == set(NEW_KEYS)
    for measurement in results.measurements:
        assert measurement.error is None, measurement
        assert len(measurement.samples) == 2 and all(measurement.samples)
        assert measurement.seconds == min(s for s in measurement.samples if s)
        assert len(measurement.rates()) == 2
    outcomes = evaluate_targets(results)
    assert {o.target.scenario for o in outcomes} == set(NEW_KEYS)
    assert all(len(o.ratios) == 2 and o.achieved is not None for o in outcomes)


def test_paired_target_is_judged_on_the_median_round() -> None:
    results = BenchResults(BenchConfig(scenarios=("6",)))
    results.measurements = [
        # Round ratios 4×, 2×, 2.5×: the best runs alone would say 0.2 s vs 1.0 s = 5×.
        Measurement("6", "cdomail EmailMessage", 100, seconds=0.2, samples=[0.25, 0.5, 0.4]),
        Measurement("6", "smtplib send_message", 100, seconds=1.0, samples=[1.0, 1.0, 1.0]),
    ]
    (outcome,) = evaluate_targets(results)
    assert outcome.ratios == pytest.approx((4.0, 2.0, 2.5))
    assert outcome.achieved == pytest.approx(2.5) and outcome.passed is False


def test_a_round_that_failed_is_left_out_of_the_pairs() -> None:
    results = BenchResults(BenchConfig(scenarios=("8",)))
    results.measurements = [
        Measurement("8", "cdomail.send", 10, seconds=1.0, samples=[1.0, None, 1.0]),
        Measurement("8", "smtplib one-shot", 10, seconds=1.0, samples=[2.0, 2.0, 0.5]),
    ]
    (outcome,) = evaluate_targets(results)
    assert outcome.ratios == pytest.approx((2.0, 0.5))


def test_write_docs_finds_the_checkout_of_the_current_directory(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "src" / "deep").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "cdomail"\n', encoding="utf-8")
    assert docs_report_path(checkout / "src" / "deep") == checkout / "docs" / "benchmarks.md"
    with pytest.raises(FileNotFoundError, match="--output"):
        docs_report_path(tmp_path)


def test_write_docs_outside_a_checkout_is_a_setup_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not HAVE_POSTFIX:
        pytest.skip("Postfix smtp-sink missing")
    monkeypatch.chdir(tmp_path)
    assert main(["--quick", "--scenario", "6", "--write-docs"]) == 2
    assert "--output" in capsys.readouterr().err
