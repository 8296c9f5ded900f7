"""SIGKILL the publish service while it publishes 500 posts, start it again, and check that
the sandbox network (served by the api service, its own process) holds each post once.

Every publish call is made slow on the network side (the sandbox stores the post, then waits
50 ms before answering), so the kill most likely lands between "the network has it" and
"we know it": the case the attempt row and the lookup are there for."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from plugins.networks.sandbox_models import SandboxPost
from services.publish.models import PublishAttempt, ScheduledPost
from shared.config import Settings
from shared.db import make_engine, make_session_factory, transaction
from shared.events import PostApproved, PostPublished, decode, new_event, topic_for
from shared.models import SocialAccount
from tests.conftest import free_port
from tests.services.publish.conftest import new_agency, prepare_database
from tests.support.kafka_tools import produce, read_all
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka

POSTS = 500
ACCOUNTS = 10
KILL_AFTER = 150


@pytest.mark.timeout(900)  # 500 posts through two real service processes, on two cores
def test_a_killed_publish_service_publishes_each_post_exactly_once_after_restart(
        kafka_settings: Settings, tmp_path: Path):
    settings = kafka_settings.model_copy(update={"api_port": free_port(),
                                                 "publish_port": free_port()})
    prepare_database(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    agency_id, brand_id, _ = new_agency(factory, "Agence")
    sandbox_url = f"http://127.0.0.1:{settings.api_port}/sandbox/api"
    with transaction(factory) as session:
        accounts = [SocialAccount(agency_id=agency_id, brand_id=brand_id, network="sandbox",
                                  handle=f"cafe{i}",
                                  settings={"base_url": sandbox_url, "min_spacing_minutes": 0})
                    for i in range(ACCOUNTS)]
        session.add_all(accounts)
        session.flush()
        account_ids = [a.id for a in accounts]

    def count(query) -> int:  # noqa: ANN001
        with factory() as session:
            return session.scalar(query) or 0

    stored = select(func.count()).select_from(SandboxPost)
    published = select(func.count()).select_from(ScheduledPost).where(
        ScheduledPost.status == "published")

    api = ServiceProcess("api", settings, tmp_path / "api.log").start()
    publish = ServiceProcess("publish", settings, tmp_path / "publish.log")
    try:
        httpx.put(f"{sandbox_url}/faults", json={
            "mode": "accept_then_timeout", "wait_s": 0.05}).raise_for_status()
        publish.start()
        ids = [f"crash{i:04d}" for i in range(POSTS)]
        produce(settings, [new_event(PostApproved(
            brand_id=brand_id, post_id=post_id, account_id=account_ids[i % ACCOUNTS],
            network="sandbox", text=f"Publication {post_id}"), tenant=agency_id, source="test")
            for i, post_id in enumerate(ids)])
        deadline = time.monotonic() + 180
        while count(stored) < KILL_AFTER:
            assert time.monotonic() < deadline, "publishing did not start"
            time.sleep(0.05)
        publish.kill()
        at_kill = {"on the network": count(stored), "known published": count(published),
                   "attempts in flight": count(select(func.count()).select_from(PublishAttempt)
                                               .where(PublishAttempt.state == "in_flight"))}
        publish.start()
        deadline = time.monotonic() + 400
        while count(published) < POSTS:
            assert time.monotonic() < deadline, f"stuck at {count(published)} of {POSTS}"
            time.sleep(0.5)
        # The last events leave the outbox just after their rows commit; an event sent just
        # before the kill and not yet deleted from the outbox is sent again (same event id).
        announced: set[str] = set()
        deadline = time.monotonic() + 60
        while announced != set(ids) and time.monotonic() < deadline:
            records = read_all(settings, topic_for(PostPublished.type, settings.topic_prefix),
                               expected=POSTS * 2, timeout=3)
            announced = {decode(r.value).data.post_id for r in records}
    finally:
        publish.stop()
        api.stop()

    with factory() as session:
        copies = Counter(session.scalars(select(SandboxPost.text)).all())
        attempts = Counter(session.scalars(select(PublishAttempt.state)).all())
        notes = session.scalars(select(PublishAttempt.note).where(
            PublishAttempt.state == "interrupted")).all()
    engine.dispose()
    duplicates = sum(n - 1 for n in copies.values() if n > 1)
    lost = [post_id for post_id in ids if copies[f"Publication {post_id}"] == 0]
    print(f"\ncrash test: {POSTS} posts; at the kill {at_kill}; after restart: "
          f"{len(copies)} on the network, duplicates {duplicates}, lost {len(lost)}; "
          f"attempts {dict(attempts)}")
    assert duplicates == 0 and lost == [] and len(copies) == POSTS
    assert at_kill["known published"] < POSTS  # the kill did land mid-run
    assert all("found on" in note or "not on" in note for note in notes)
    assert announced == set(ids)
