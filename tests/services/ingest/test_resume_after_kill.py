"""The ingest service, as its own process, polls the sandbox network (served by the api
process) page by page; SIGKILLed in the middle and started again, it resumes from the cursor
kept in the database: every mention the network has is stored and announced once, none is
missing, through the real Kafka broker."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from plugins.networks.sandbox_models import SandboxPost
from services.ingest.models import Mention
from shared.config import Settings
from shared.db import transaction, utcnow
from shared.events import MentionReceived, topic_for
from tests.conftest import free_port
from tests.services.ingest.conftest import add_account, new_tenant
from tests.support.kafka_tools import read_all
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka
POSTS = 60


def _seed_network(factory, handle: str) -> None:  # type: ignore[no-untyped-def]
    """Posts published days ago on the sandbox, so their mentions already exist (the server
    draws them from its seed and clock) and no new one appears during the test."""
    start = utcnow() - timedelta(days=4)
    with transaction(factory) as session:
        for index in range(POSTS):
            session.add(SandboxPost(
                handle=handle, external_id=f"sbx-{handle}-{index:03d}", text=f"Post {index}",
                content_hash=f"{index:064d}", language="fr", timezone="Europe/Paris",
                created_at=start + timedelta(minutes=37 * index)))


def _all_mentions(base_url: str, handle: str) -> list[str]:
    """What the network has, read from the start with a fresh cursor."""
    found, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{base_url}/accounts/{handle}/mentions", params=params, timeout=30).json()
        found += [item["external_id"] for item in page["items"]]
        if not page["has_more"]:
            return found
        cursor = page["next_cursor"]


def _stored(factory) -> int:  # type: ignore[no-untyped-def]
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Mention)) or 0)


def test_polling_resumes_after_sigkill_with_no_gap_and_no_duplicate(
        ingest_settings: Settings, ingest_factory, tmp_path):  # type: ignore[no-untyped-def]
    settings = ingest_settings.model_copy(update={"api_port": free_port(),
                                                  "ingest_port": free_port()})
    handle = f"cafe{int(time.time() * 1000) % 100000}"
    base_url = f"http://127.0.0.1:{settings.api_port}/sandbox/api"
    tenant = new_tenant(ingest_factory)
    add_account(ingest_factory, tenant, "sandbox", handle, settings={"base_url": base_url})
    _seed_network(ingest_factory, handle)
    env = {"TAMTAM_INGEST_POLL_INTERVALS": json.dumps({"sandbox": 0.4}),
           "TAMTAM_INGEST_MAX_PAGES_PER_POLL": "1"}

    api = ServiceProcess("api", settings, tmp_path / "api.log").start()
    ingest = ServiceProcess("ingest", settings, tmp_path / "ingest.log", **env)
    try:
        expected = _all_mentions(base_url, handle)
        assert len(expected) > 150, "the sandbox should have several pages of mentions"

        ingest.start()
        deadline = time.monotonic() + 60
        while _stored(ingest_factory) < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
        ingest.kill()  # SIGKILL, mid-stream
        at_kill = _stored(ingest_factory)
        print(f"\nmentions on the network: {len(expected)}; stored when killed: {at_kill}")
        assert 0 < at_kill < len(expected), "the kill must land in the middle of the polling"

        ingest = ServiceProcess("ingest", settings, tmp_path / "ingest2.log", **env).start()
        deadline = time.monotonic() + 90
        while _stored(ingest_factory) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)  # a few more polls: nothing new may appear

        with ingest_factory() as session:
            stored = list(session.scalars(select(Mention.external_id)))
        assert len(stored) == len(set(stored)), "a mention was stored twice"
        assert set(stored) == set(expected), (
            f"missing {len(set(expected) - set(stored))}, extra {len(set(stored) - set(expected))}")

        # everything on the topic (redeliveries of one event included), not just len(expected)
        records = read_all(settings, topic_for(MentionReceived.type, settings.topic_prefix),
                           expected=len(expected) * 3, timeout=15)
        events_by_mention: dict[str, set[str]] = defaultdict(set)
        for record in records:
            event = json.loads(record.value)
            events_by_mention[event["data"]["external_id"]].add(event["id"])
        assert set(events_by_mention) == set(expected), "no gap in mentions.received"
        repeated = {k: v for k, v in events_by_mention.items() if len(v) > 1}
        assert not repeated, f"two different events for one mention: {list(repeated)[:3]}"
    finally:
        ingest.kill()
        api.stop()
