"""A small `make chaos`: two publish replicas, one SIGKILLed and restarted, one sandbox fault
window, on the real broker. No post may be published twice, none may be lost.

200 posts due over 20 s on 2 sandbox accounts; the api process serves the sandbox. The broker
is the shared one, so it is not restarted here (the full scenario restarts its own).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import ChaosConfig, run_scenario

pytestmark = pytest.mark.kafka


def test_a_killed_publish_replica_and_a_flaky_network_neither_duplicate_nor_lose_a_post(
    kafka_bootstrap: str, tmp_path: Path
):
    config = ChaosConfig(
        posts=200, accounts=2, brands=2, minutes=20 / 60, partitions=6,
        publish_replicas=2, ingest_replicas=0, publish_kills=1, ingest_kills=0,
        broker_restart=False, faults=("rate_limit", "server_error"), fault_seconds=8,
        lead_s=10, warmup_s=8, settle_timeout_s=240, seed=20261129,
        workdir=tmp_path / "chaos", bootstrap=kafka_bootstrap,
    )

    result = run_scenario(config)

    kills = [entry for entry in result["timeline"] if entry["kind"] == "SIGKILL"]
    assert [entry["replica"].split("-")[0] for entry in kills] == ["publish"]
    assert any(entry["kind"] == "restart" for entry in result["timeline"])
    assert {"faults-on", "faults-off"} <= {entry["kind"] for entry in result["timeline"]}
    assert not result["timed_out"], result["examples"]

    assert result["published_twice"] == 0, result["examples"]["twice"]
    assert result["lost"] == 0, result["examples"]["lost"]
    assert result["published_once"] + result["failed"] == 200
    assert result["sandbox_rows"] == result["published_once"]
    assert result["reported_published_not_on_network"] == 0
