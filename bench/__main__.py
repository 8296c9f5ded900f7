"""`make bench`: runs every benchmark, each in its own process, and writes
var/bench/report.json and var/bench/report.md (machine, versions, medians, ratios).

    python -m bench [name ...]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

from bench.common import POSTGRES_URL, postgres_reachable
from shared.config import ROOT

# (module, arguments); PostgreSQL ones run only when its server answers (see bench/common.py).
BENCHMARKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("api_latency", ()),
    ("ingest_pipeline", ()),
    ("generation_throughput", ()),
    ("publish_lateness", ()),  # SQLite, as `make run`
    ("publish_lateness", ("--database-url", POSTGRES_URL)),  # PostgreSQL, as in production
    ("scheduler_tick", ("--database-url", POSTGRES_URL)),
)
OUT = ROOT / "var" / "bench"


def machine() -> dict[str, object]:
    import kafka
    import sqlalchemy

    memory = ""
    try:
        memory = next(line.split(":")[1].strip() for line in open("/proc/meminfo")
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        pass
    kafka_jar = next((p.name for p in (ROOT / "infra" / "kafka" / "libs").glob("kafka_2.13-*.jar")), "")
    return {
        "cpus": os.cpu_count(), "memory": memory, "platform": platform.platform(),
        "python": platform.python_version(), "kafka_python": kafka.__version__,
        "sqlalchemy": sqlalchemy.__version__, "broker": kafka_jar.removesuffix(".jar"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def run_one(name: str, arguments: tuple[str, ...] = ()) -> list[dict[str, object]]:
    print(f"== bench.{name} {' '.join(arguments)}", flush=True)
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-m", f"bench.{name}", *arguments], cwd=ROOT,
                             capture_output=True, text=True, timeout=1800)
    results = [json.loads(line.removeprefix("BENCH_RESULT "))
               for line in process.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if process.returncode != 0 or not results:
        results = [{"name": name, "error": (process.stderr or process.stdout)[-1500:]}]
    for result in results:
        result["seconds"] = round(time.monotonic() - started, 1)
        print(json.dumps(result, indent=1), flush=True)
    return results


def markdown(report: dict[str, object]) -> str:
    lines = ["# Tamtam benchmarks", "", "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["machine"].items()]  # type: ignore[union-attr]
    lines += ["", "| benchmark | figure | value |", "|---|---|---|"]
    for result in report["results"]:  # type: ignore[union-attr]
        for key, value in result.items():
            if key in ("name", "samples"):
                continue
            lines.append(f"| {result['name']} | {key} | {value} |")
    return "\n".join(lines) + "\n"


def plan(names: list[str], with_postgres: bool) -> list[tuple[str, tuple[str, ...]]]:
    """The benchmarks to run: those named (all when none is), without the PostgreSQL ones
    when its server does not answer."""
    unknown = set(names) - {name for name, _ in BENCHMARKS}
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted({name for name, _ in BENCHMARKS}))})")
    return [(name, arguments) for name, arguments in BENCHMARKS
            if (not names or name in names) and (with_postgres or POSTGRES_URL not in arguments)]


def main(names: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with_postgres = postgres_reachable()
    if not with_postgres:
        print(f"PostgreSQL not reachable at {POSTGRES_URL}: its benchmarks are left out", flush=True)
    results = [r for name, arguments in plan(names, with_postgres) for r in run_one(name, arguments)]
    report = {"machine": machine(), "results": results}
    (OUT / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (OUT / "report.md").write_text(markdown(report))
    print(f"written: {OUT / 'report.json'}, {OUT / 'report.md'}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
