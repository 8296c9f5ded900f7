"""Shared pieces of the benchmarks: timing, medians, and the one line each benchmark prints
for `make bench` to collect (`BENCH_RESULT {json}`)."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

# The PostgreSQL the benchmarks use (the one .ci/run starts; TAMTAM_BENCH_POSTGRES_URL to change).
POSTGRES_URL = (os.environ.get("TAMTAM_BENCH_POSTGRES_URL") or os.environ.get("TAMTAM_TEST_POSTGRES_URL")
                or "postgresql+psycopg://tamtam:tamtam@127.0.0.1:5432/tamtam_test")


def postgres_reachable(url: str = POSTGRES_URL) -> bool:
    from shared.db import make_engine, ping

    engine = make_engine(url, connect_args={"connect_timeout": 3})
    try:
        ping(engine)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not here"
        return False
    finally:
        engine.dispose()


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    values = [measure() for _ in range(runs)]
    return statistics.median(values), values


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def report(name: str, **figures: Any) -> None:
    """Print the benchmark's figures (medians, baselines, ratios) as one machine-read line."""
    print("BENCH_RESULT " + json.dumps({"name": name, **figures}, default=str), flush=True)
