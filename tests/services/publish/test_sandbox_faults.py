"""The publish service against the sandbox network's fault modes, through the real broker:
posts.approved goes in on Kafka, the service's consumer and scheduler loop run for real, the
sandbox server answers over HTTP (429 with Retry-After, 500, timeouts, accept-then-timeout,
a refusal). Every post ends published exactly once on the network, or failed with a reason."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from plugins.networks.sandbox_models import SandboxPost
from services.api import sandbox as sandbox_server
from services.api.deps import get_session
from services.publish.attempts import PublishPolicy
from services.publish.main import create_app
from services.publish.models import PublishAttempt, ScheduledPost
from shared import problems
from shared.config import Settings
from shared.db import make_engine, make_session_factory, transaction
from shared.events import PostApproved, PostFailed, PostPublished, decode, new_event, topic_for
from shared.models import SocialAccount
from tests.services.publish.conftest import new_agency, prepare_database
from tests.support.kafka_tools import produce, read_all

pytestmark = pytest.mark.kafka

FAST = PublishPolicy(max_retries=10, backoff_base_s=0.2, backoff_cap_s=2.0, network_timeout_s=1.0)


@contextmanager
def sandbox_network(factory: sessionmaker[Session]) -> Iterator[str]:
    """The api's sandbox router alone, served by uvicorn on a free port; yields its base URL."""

    def session() -> Iterator[Session]:
        with factory() as opened:
            yield opened

    app = FastAPI()
    problems.install(app)
    app.include_router(sandbox_server.router)
    app.dependency_overrides[get_session] = session
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the sandbox server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/sandbox/api"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class World:
    settings: Settings
    factory: sessionmaker[Session]
    sandbox_url: str
    agency_id: str
    brand_id: str
    accounts: list[str]

    def approve(self, count: int) -> list[str]:
        ids = [f"post{i:04d}" for i in range(count)]
        produce(self.settings, [new_event(PostApproved(
            brand_id=self.brand_id, post_id=post_id,
            account_id=self.accounts[i % len(self.accounts)],
            network="sandbox", text=f"Publication {post_id}"), tenant=self.agency_id, source="test")
            for i, post_id in enumerate(ids)])
        return ids

    def wait_settled(self, ids: list[str], timeout: float = 120) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            with self.factory() as session:
                states = dict(session.execute(select(ScheduledPost.id, ScheduledPost.status)
                                              .where(ScheduledPost.id.in_(ids))).all())
            settled = all(s in ("published", "failed") for s in states.values())
            if len(states) == len(ids) and settled:
                return states
            assert time.monotonic() < deadline, f"not settled: {Counter(states.values())}"
            time.sleep(0.2)


@pytest.fixture
def world(kafka_settings: Settings) -> Iterator[World]:
    prepare_database(kafka_settings.database_url)
    engine = make_engine(kafka_settings.database_url)
    factory = make_session_factory(engine)
    agency_id, brand_id, _ = new_agency(factory, "Agence")
    with sandbox_network(factory) as url:
        with transaction(factory) as session:
            accounts = [SocialAccount(agency_id=agency_id, brand_id=brand_id, network="sandbox",
                                      handle=f"cafe{i}", settings={"base_url": url,
                                                                   "min_spacing_minutes": 0})
                        for i in range(2)]
            session.add_all(accounts)
            session.flush()
            ids = [a.id for a in accounts]
        yield World(kafka_settings, factory, url, agency_id, brand_id, ids)
    engine.dispose()


def network_copies(world: World) -> Counter[str]:
    with world.factory() as session:
        return Counter(session.scalars(select(SandboxPost.text)).all())


@pytest.mark.parametrize(("mode", "count", "wait_s"), [
    ("rate_limit", 4, 1.0),
    ("server_error", 4, 0.0),
    ("timeout", 3, 2.0),
    ("accept_then_timeout", 3, 2.0),
])
def test_every_post_is_published_exactly_once_through_the_fault(world, mode, count, wait_s):
    httpx.put(f"{world.sandbox_url}/faults", json={
        "mode": mode, "count": count, "wait_s": wait_s}).raise_for_status()
    with TestClient(create_app(world.settings, policy=FAST, tick_s=0.1)):
        ids = world.approve(6)
        states = world.wait_settled(ids)
    assert set(states.values()) == {"published"}
    copies = network_copies(world)
    assert all(copies[f"Publication {post_id}"] == 1 for post_id in ids), copies
    assert len(copies) == len(ids)
    published = read_all(world.settings, topic_for(PostPublished.type, world.settings.topic_prefix),
                         expected=len(ids))
    assert sorted({decode(r.value).data.post_id for r in published}) == ids
    with world.factory() as session:
        states_of_attempts = Counter(session.scalars(select(PublishAttempt.state)).all())
    assert states_of_attempts["retry_later"] >= 1  # the fault was met, and retried
    if mode == "rate_limit":
        with world.factory() as session:
            notes = session.scalars(select(ScheduledPost.schedule_note)).all()
        assert any("rate limited" in note for note in notes)


def test_a_refusal_fails_that_post_at_once_and_the_others_go_out(world):
    fault = {"mode": "rejected", "count": 1}
    httpx.put(f"{world.sandbox_url}/faults", json=fault).raise_for_status()
    with TestClient(create_app(world.settings, policy=FAST, tick_s=0.1)):
        ids = world.approve(4)
        states = world.wait_settled(ids)
    assert Counter(states.values()) == {"published": 3, "failed": 1}
    failures = read_all(world.settings, topic_for(PostFailed.type, world.settings.topic_prefix), 1)
    # at least once: the same event (same id) may be on the topic twice
    [failure] = [e.data for e in {e.id: e for e in (decode(r.value) for r in failures)}.values()]
    assert failure.retryable is False and "refus" in failure.reason
    copies = network_copies(world)
    assert sum(copies.values()) == 3 and set(copies.values()) == {1}
