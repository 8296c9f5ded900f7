"""API latency of a typical list endpoint (`GET /v1/brands`: auth, tenant-scoped query,
pagination, serialisation) against a bare FastAPI endpoint served the same way in the
same run. The ratio is the figure to compare between runs.

    python -m bench.api_latency
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from bench.common import percentile, report
from services.api.keys import create_agency
from services.api.main import create_app
from shared.bus import ensure_topics
from shared.config import Settings
from shared.db import make_engine, make_session_factory, transaction
from shared.migrate import upgrade
from shared.models import Brand

REQUESTS = 400
RUNS = 5


def _serve(app: FastAPI, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def _latencies(client: httpx.Client, url: str, headers: dict[str, str]) -> list[float]:
    out = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        client.get(url, headers=headers).raise_for_status()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="tamtam-bench-"))
    settings = Settings(database_url=f"sqlite:///{folder / 'bench.db'}", topic_prefix="bench.",
                        demo=False, secret_keys="Y1hUkUHsa3s0Bq4WkJrYbyQ7pIa_zzcVHbpJ4eY2fSI=",
                        rate_limit_per_minute=10_000_000, rate_limit_burst=100_000)
    ensure_topics(settings)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine)) as session:
        agency, key = create_agency(session, "Bench")
        session.add_all(Brand(agency_id=agency.id, name=f"Brand {i}") for i in range(200))
    bare = FastAPI()

    @bare.get("/bare")
    def bare_endpoint() -> dict[str, str]:
        return {"status": "ok"}

    servers = [_serve(create_app(settings), 18600), _serve(bare, 18601)]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client() as client:
        client.get("http://127.0.0.1:18600/v1/brands?limit=50", headers=headers).raise_for_status()
        api_runs, bare_runs = [], []
        for _ in range(RUNS):  # interleaved, so both see the same machine load
            api_runs.append(_latencies(client, "http://127.0.0.1:18600/v1/brands?limit=50", headers))
            bare_runs.append(_latencies(client, "http://127.0.0.1:18601/bare", {}))
    api_p50 = sorted(percentile(r, 50) for r in api_runs)[RUNS // 2]
    bare_p50 = sorted(percentile(r, 50) for r in bare_runs)[RUNS // 2]
    api_p99 = sorted(percentile(r, 99) for r in api_runs)[RUNS // 2]
    for server in servers:
        server.should_exit = True
    report("api_latency", requests_per_run=REQUESTS, runs=RUNS,
           list_brands_p50_ms=round(api_p50 * 1000, 3), list_brands_p99_ms=round(api_p99 * 1000, 3),
           bare_fastapi_p50_ms=round(bare_p50 * 1000, 3),
           ratio_p50=round(api_p50 / bare_p50, 2))
    engine.dispose()


if __name__ == "__main__":
    main()
