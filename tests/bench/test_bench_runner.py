"""`make bench`'s runner: which benchmarks run, and the Markdown report."""

from __future__ import annotations

import pytest

from bench.__main__ import BENCHMARKS, markdown, plan
from bench.common import POSTGRES_URL


def test_postgresql_benchmarks_are_left_out_when_the_server_does_not_answer():
    everything = plan([], with_postgres=True)
    assert everything == list(BENCHMARKS)
    without = plan([], with_postgres=False)
    assert ("publish_lateness", ()) in without
    assert all(POSTGRES_URL not in arguments for _, arguments in without)
    assert len(without) == len(everything) - 2  # publish lateness and the tick on PostgreSQL


def test_a_named_benchmark_runs_alone_and_an_unknown_name_is_refused():
    assert plan(["publish_lateness"], with_postgres=True) == [
        ("publish_lateness", ()), ("publish_lateness", ("--database-url", POSTGRES_URL))]
    with pytest.raises(SystemExit, match="no such benchmark: nope"):
        plan(["nope"], with_postgres=True)


def test_the_markdown_report_has_the_machine_and_every_figure_but_raw_samples():
    report = {"machine": {"cpus": 2, "python": "3.11.7"},
              "results": [{"name": "publish_lateness", "throughput_per_s": 36.1, "ratio": 0.45,
                           "samples": [1, 2, 3]}]}
    text = markdown(report)
    assert "| cpus | 2 |" in text
    assert "| publish_lateness | throughput_per_s | 36.1 |" in text
    assert "| publish_lateness | ratio | 0.45 |" in text
    assert "samples" not in text
