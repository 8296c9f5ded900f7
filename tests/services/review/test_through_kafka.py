"""Through the real broker, with the review service running as its own process and the api
process (which serves review's routes) in this one: a draft is reviewed in two steps and
`posts.approved` goes out; a crisis alert pauses the brand; a person resumes it.

Holding posts while a brand is paused is publish's job: here only the events are checked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.api.main import create_app
from services.review.models import ReviewPost
from shared.config import Settings
from shared.events import (
    BrandPaused,
    BrandResumed,
    CrisisAlerted,
    PostApproved,
    decode,
    new_event,
    topic_for,
)
from tests.conftest import free_port
from tests.services.review.conftest import Tenant, draft_event, make_tenant
from tests.support.kafka_tools import produce, read_all
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka


@pytest.fixture
def flow_settings(kafka_settings: Settings, engine) -> Settings:
    return kafka_settings.model_copy(update={"api_port": free_port(), "review_port": free_port()})


@pytest.fixture
def review_process(flow_settings: Settings, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess("review", flow_settings, tmp_path / "review.log").start()
    yield process
    process.stop()


@pytest.fixture
def api(flow_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(flow_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def agency(session_factory: sessionmaker[Session]) -> Tenant:
    with session_factory() as session:
        return make_tenant(session)


def wait_for_post(session_factory, post_id: str, state: str, timeout: float = 30.0) -> ReviewPost:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_factory() as session:
            post = session.get(ReviewPost, post_id)
            if post is not None and post.state == state:
                return post
        time.sleep(0.2)
    raise AssertionError(f"post {post_id} never reached {state}")


def events_of(settings: Settings, payload_type, expected: int = 1):
    """Events on the topic, each once: delivery is at least once, so the same event (same id)
    may be on the topic twice; consumers skip repeats, and so does this reader."""
    records = read_all(settings, topic_for(payload_type.type, settings.topic_prefix), expected)
    return list({event.id: event for event in map(decode_record, records)}.values())


def decode_record(record):
    return decode(record.value)


def test_a_draft_is_approved_in_two_steps_and_posts_approved_goes_out(
    flow_settings, review_process, api, agency, session_factory
):
    policy = {
        "steps": [
            {"name": "Agence", "roles": ["editor"]},
            {"name": "Client", "roles": ["approver"]},
        ]
    }
    assert (
        api.put(
            f"/v1/brands/{agency.brand_id}/approval-policy",
            json=policy,
            headers=agency.headers("admin"),
        ).status_code
        == 200
    )
    event = draft_event(agency)
    produce(flow_settings, [event])
    post_id = event.data.draft_id
    wait_for_post(session_factory, post_id, "in_review")

    viewer = api.post(
        f"/v1/posts/{post_id}/decision",
        json={"decision": "approve"},
        headers=agency.headers("viewer"),
    )
    assert viewer.status_code == 403
    first = api.post(
        f"/v1/posts/{post_id}/decision",
        json={"decision": "approve"},
        headers=agency.headers("editor"),
    )
    assert first.status_code == 200 and first.json()["step"] == 1
    second = api.post(
        f"/v1/posts/{post_id}/decision",
        json={"decision": "approve", "text": "Tarte aux pommes !", "best_time": True},
        headers=agency.headers("approver"),
    )
    assert second.status_code == 200, second.text
    assert second.json()["state"] == "approved"

    [approved] = events_of(flow_settings, PostApproved)
    assert approved.data.post_id == post_id and approved.data.account_id == agency.account_id
    assert approved.data.text == "Tarte aux pommes !" and approved.data.best_time
    assert approved.tenant == agency.agency_id and approved.key == agency.brand_id


def test_a_crisis_alert_pauses_the_brand_and_a_person_resumes_it(
    flow_settings, review_process, api, agency, session_factory
):
    produce(
        flow_settings,
        [
            new_event(
                CrisisAlerted(
                    brand_id=agency.brand_id,
                    alert_id="a-1",
                    severity=0.85,
                    reason="pic négatif",
                    samples=["service nul"],
                    curve=[{"t": "2030-01-01T00:00:00+00:00", "volume": 30, "negative_share": 0.7}],
                ),
                tenant=agency.agency_id,
                source="ingest",
            )
        ],
    )
    [paused] = events_of(flow_settings, BrandPaused)
    assert paused.data.brand_id == agency.brand_id and paused.data.alert_id == "a-1"

    crisis = api.get(f"/v1/brands/{agency.brand_id}/crisis", headers=agency.headers("viewer"))
    assert crisis.json()["paused"] is True
    alerts = api.get("/v1/crisis-alerts", headers=agency.headers("viewer")).json()["items"]
    assert [a["id"] for a in alerts] == ["a-1"]

    assert (
        api.post(
            f"/v1/brands/{agency.brand_id}/resume",
            json={"held_posts": "release"},
            headers=agency.headers("viewer"),
        ).status_code
        == 403
    )
    resumed = api.post(
        f"/v1/brands/{agency.brand_id}/resume",
        json={"held_posts": "release"},
        headers=agency.headers("editor"),
    )
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    [event] = events_of(flow_settings, BrandResumed)
    assert event.data.held_posts == "release" and event.data.actor.startswith("key:")
