"""Through the real broker: a brief posted to the api becomes drafts in the database (French
and English), each passing its network's validator; the guardrails endpoint answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from plugins.networks.base import OutgoingPost
from services.api.main import create_app
from services.generation.handlers import make_handlers
from services.generation.models import Draft
from shared.bus import Publisher, make_producer
from shared.config import Settings
from shared.db import Base, import_all_models, make_engine, make_session_factory
from shared.events import DraftCreated, decode, topic_for
from shared.metrics import ServiceMetrics
from shared.migrate import upgrade
from shared.runner import ConsumerRunner
from tests.support.kafka_tools import read_all

from .conftest import make_deps, new_tenant

pytestmark = pytest.mark.kafka
NETWORKS = ["sandbox", "mastodon", "x", "bluesky"]


@pytest.fixture
def api_settings(kafka_settings: Settings) -> Settings:
    upgrade(kafka_settings.database_url)
    import_all_models()
    engine = make_engine(kafka_settings.database_url)
    Base.metadata.create_all(engine)  # tables no migration has yet (generation's)
    engine.dispose()
    return kafka_settings


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def factory(api_settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(api_settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def generation_consumer(settings: Settings, factory, networks) -> ConsumerRunner:  # type: ignore[no-untyped-def]
    producer = make_producer(settings, client_id="test-generation")
    return ConsumerRunner(
        settings=settings,
        group="generation",
        handlers=make_handlers(make_deps(networks)),
        session_factory=factory,
        publisher=Publisher(producer, factory, "generation", settings.topic_prefix),
        metrics=ServiceMetrics("generation"),
    )


BRIEFS = {
    "fr": {
        "goal": "launch",
        "topic": "pain au levain",
        "key_message": "Notre pain au levain sort du four chaque matin à 7h",
        "links": ["https://example.com/pain"],
        "call_to_action": "Passez le goûter",
        "language": "fr",
        "variants": 2,
    },
    "en": {
        "goal": "event",
        "topic": "baking workshop",
        "key_message": "Our kids' baking workshop is back every Saturday afternoon",
        "links": ["https://example.com/workshop"],
        "call_to_action": "Book a place",
        "language": "en",
        "variants": 3,
    },
}


def test_briefs_in_french_and_english_become_valid_drafts_through_kafka(
    client, api_settings, factory, networks
):
    tenant = new_tenant(factory)
    ids = {}
    for language, brief in BRIEFS.items():
        answer = client.post(
            "/v1/briefs",
            headers=tenant.headers,
            json={**brief, "brand_id": tenant.brand_id, "networks": NETWORKS},
        )
        assert answer.status_code == 202, answer.text
        assert answer.headers["location"] == f"/v1/briefs/{answer.json()['id']}"
        ids[language] = answer.json()["id"]
        pending = client.get(f"/v1/briefs/{ids[language]}", headers=tenant.headers).json()
        assert pending["status"] == "pending" and pending["drafts"] == []

    consumer = generation_consumer(api_settings, factory, networks)
    try:
        assert consumer.run(max_messages=2, idle_timeout=30) == 2
    finally:
        consumer.publisher.producer.close()

    expected = 0
    for language, brief_id in ids.items():
        body = client.get(f"/v1/briefs/{brief_id}", headers=tenant.headers).json()
        assert body["status"] == "ready", body
        assert len(body["drafts"]) == BRIEFS[language]["variants"] * len(NETWORKS)
        assert body["runs"][0]["provider"] == "local" and body["runs"][0]["outcome"] == "ok"
        expected += len(body["drafts"])
        for draft in body["drafts"]:
            assert draft["language"] == language
            adapter = networks.create(draft["network"])
            assert adapter.validate(OutgoingPost(text=draft["text"], language=language)) == []
            assert BRIEFS[language]["links"][0] in draft["text"]
    with factory() as session:
        assert len(session.scalars(select(Draft)).all()) == expected
    records = read_all(
        api_settings, topic_for(DraftCreated.type, api_settings.topic_prefix), expected
    )
    events = [decode(r.value) for r in records]
    assert len(events) == expected
    assert {e.data.brief_id for e in events} == set(ids.values())
    assert all(r.key.decode() == tenant.brand_id for r in records)


def test_a_brief_for_an_unknown_network_or_another_agency_s_brand_is_refused(client, factory):
    tenant, other = new_tenant(factory), new_tenant(factory)
    brief = {**BRIEFS["fr"], "brand_id": tenant.brand_id}
    unknown = client.post(
        "/v1/briefs", headers=tenant.headers, json={**brief, "networks": ["sandbox", "myspace"]}
    )
    assert unknown.status_code == 422 and "myspace" in unknown.json()["detail"]
    foreign = client.post("/v1/briefs", headers=other.headers, json={**brief, "networks": ["x"]})
    assert foreign.status_code == 404
    extra = client.post(
        "/v1/briefs", headers=tenant.headers, json={**brief, "networks": ["x"], "colour": "blue"}
    )
    assert extra.status_code == 422
    missing = client.get("/v1/briefs/nope", headers=tenant.headers)
    assert missing.status_code == 404


def test_the_guardrail_check_endpoint_scores_a_text_with_reasons_and_spans(client, factory):
    tenant = new_tenant(factory)
    text = "Contrairement à nos concurrents, nos croissants pas cher sont garantis à vie."
    answer = client.post(
        "/v1/guardrails/check",
        headers=tenant.headers,
        json={"brand_id": tenant.brand_id, "text": text},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == "needs_person" and body["language"] == "fr"
    codes = {r["code"] for r in body["reasons"]}
    assert {"competitor_attack", "banned_term", "promise"} <= codes
    banned = next(r for r in body["reasons"] if r["code"] == "banned_term")
    assert text[banned["start"] : banned["end"]] == "pas cher"
    safe = client.post(
        "/v1/guardrails/check",
        headers=tenant.headers,
        json={
            "brand_id": tenant.brand_id,
            "language": "en",
            "context": "reply",
            "text": "Thanks for your message, see you on Saturday!",
        },
    )
    assert safe.json()["verdict"] == "ok" and safe.json()["reasons"] == []
