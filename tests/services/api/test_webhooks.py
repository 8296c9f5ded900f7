"""Outgoing webhooks: subscriptions, deliveries of real Kafka events to a local receiver, the
Standard Webhooks signature (checked by an implementation written here, from the spec), retries
after 500s, the delivery log, replay, and no delivery to private addresses by default."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.api.keys import hash_key
from services.api.main import create_app
from services.api.webhooks import delivery
from services.api.webhooks.models import WebhookDelivery, WebhookSubscription
from shared.crypto import SecretBox
from shared.db import make_engine, make_session_factory
from shared.events import PostPublished, new_event
from shared.models import ApiKey
from tests.support.kafka_tools import produce

pytestmark = pytest.mark.kafka


class Receiver:
    """A local HTTP endpoint that records what it is sent and answers the scripted statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def hook_settings(api_settings):
    return api_settings.model_copy(
        update={
            "webhook_allow_hosts": "127.0.0.1",
            "webhook_poll_interval_s": 0.05,
            "webhook_retry_base_s": 0.05,
            "webhook_timeout_s": 60.0,
            "rate_limit_per_minute": 0,
        }
    )


@pytest.fixture
def hook_client(hook_settings) -> Iterator[TestClient]:
    with TestClient(create_app(hook_settings), raise_server_exceptions=False) as client:
        yield client


def independent_verify(secret: str, headers: dict[str, str], body: str) -> bool:
    """Standard Webhooks verification, written from the specification (not from our code)."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    versions = dict(part.split(",", 1) for part in headers["webhook-signature"].split(" "))
    return hmac.compare_digest(versions.get("v1", ""), expected)


def agency_of(settings, headers: dict[str, str]) -> str:
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        key = headers["Authorization"].removeprefix("Bearer ")
        agency_id = session.scalars(
            select(ApiKey.agency_id).where(ApiKey.key_hash == hash_key(key))
        ).one()
    engine.dispose()
    return agency_id


def published(agency_id: str, post: str = "p1"):
    return new_event(
        PostPublished(
            brand_id="b1",
            post_id=post,
            account_id="a1",
            network="sandbox",
            external_id="sbx-1",
            url="http://127.0.0.1:8000/sandbox/dupont",
            published_at=datetime.now(UTC),
        ),
        tenant=agency_id,
        source="publish",
    )


def wait_for(condition, timeout: float = 120.0):  # the consumer may take a while to join
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def subscribe(client, headers, url: str, events=("posts.published",)) -> dict:
    answer = client.post("/v1/webhooks", headers=headers, json={"url": url, "events": list(events)})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_published_post_from_kafka_is_delivered_signed(
    hook_client, hook_settings, agency_a, agency_b, receiver
):
    hook = subscribe(hook_client, agency_a, receiver.url)
    assert hook["secret"].startswith("whsec_")
    assert (
        hook["secret"] not in hook_client.get(f"/v1/webhooks/{hook['id']}", headers=agency_a).text
    )
    other = Receiver()  # agency B's subscription must not receive A's event
    try:
        subscribe(hook_client, agency_b, other.url)
        event = published(agency_of(hook_settings, agency_a))
        produce(hook_settings, [event])
        wait_for(lambda: receiver.requests)
        time.sleep(0.5)
        assert other.requests == []
    finally:
        other.close()
    headers, body = receiver.requests[0]
    assert independent_verify(hook["secret"], headers, body)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300
    payload = json.loads(body)
    assert payload["type"] == "posts.published" and payload["data"]["post_id"] == "p1"
    assert payload["event_id"] == event.id
    tampered = body.replace('"p1"', '"p2"')
    assert not independent_verify(hook["secret"], headers, tampered)

    log = wait_for(
        lambda: [
            d
            for d in hook_client.get("/v1/webhooks/deliveries", headers=agency_a).json()["items"]
            if d["status"] == "succeeded"
        ]
    )
    assert log[0]["id"] == headers["webhook-id"] and log[0]["attempts"] == 1
    assert hook_client.get("/v1/webhooks/deliveries", headers=agency_b).json()["items"] == []


def test_failed_attempts_are_retried_with_backoff_and_logged(hook_client, hook_settings, agency_a):
    receiver = Receiver(statuses=[500, 500, 204])
    try:
        subscribe(hook_client, agency_a, receiver.url)
        produce(hook_settings, [published(agency_of(hook_settings, agency_a))])
        wait_for(lambda: len(receiver.requests) >= 3)
    finally:
        receiver.close()
    ids = {headers["webhook-id"] for headers, _ in receiver.requests}
    assert len(ids) == 1  # the same message id on every retry
    path = f"/v1/webhooks/deliveries/{ids.pop()}"
    done = wait_for(
        lambda: (d := hook_client.get(path, headers=agency_a).json())["status"] == "succeeded" and d
    )
    assert [a["status_code"] for a in done["log"]] == [500, 500, 204]
    assert done["attempts"] == 3 and done["last_status_code"] == 204


def test_replay_sends_a_delivery_again(hook_client, hook_settings, agency_a, receiver):
    subscribe(hook_client, agency_a, receiver.url)
    produce(hook_settings, [published(agency_of(hook_settings, agency_a))])
    wait_for(lambda: receiver.requests)
    delivery_id = receiver.requests[0][0]["webhook-id"]
    wait_for(
        lambda: (
            hook_client.get(f"/v1/webhooks/deliveries/{delivery_id}", headers=agency_a).json()[
                "status"
            ]
            == "succeeded"
        )
    )
    replayed = hook_client.post(f"/v1/webhooks/deliveries/{delivery_id}/replay", headers=agency_a)
    assert replayed.status_code == 202
    wait_for(lambda: len(receiver.requests) == 2)
    assert receiver.requests[1][0]["webhook-id"] == delivery_id
    assert receiver.requests[1][1] == receiver.requests[0][1]


def test_loopback_urls_are_refused_unless_allow_listed(client, agency_a, receiver):
    """`client` runs with the default settings: no allow-list."""
    answer = client.post(
        "/v1/webhooks", headers=agency_a, json={"url": receiver.url, "events": ["posts.published"]}
    )
    assert answer.status_code == 422 and answer.json()["type"].endswith("webhook-url-refused")
    for url in (
        "http://169.254.169.254/latest",
        "http://[::1]:8080/x",
        "ftp://example.com/x",
        "http://user:pw@127.0.0.1/x",
        "http://10.0.0.8/hook",
    ):
        refused = client.post(
            "/v1/webhooks", headers=agency_a, json={"url": url, "events": ["posts.published"]}
        )
        assert refused.status_code == 422, url


def test_no_delivery_to_127_0_0_1_by_default(api_settings, agency_a, receiver):
    """A subscription that points at a loopback address (e.g. its host name changed to resolve
    there) is not delivered to: the address is checked again at every attempt."""
    box = SecretBox.from_settings(api_settings)
    engine = make_engine(api_settings.database_url)
    factory = make_session_factory(engine)
    agency_id = agency_of(api_settings, agency_a)
    with factory() as session:
        session.add(
            WebhookSubscription(
                agency_id=agency_id,
                url=receiver.url,
                events=["posts.published"],
                secret_encrypted=box.seal({"secret": "whsec_" + "A" * 44}),
            )
        )
        session.commit()
        delivery.enqueue(published(agency_id), session)
        session.commit()
    assert api_settings.webhook_allow_hosts == ""
    assert delivery.deliver_due(factory, api_settings, box) == 1
    with factory() as session:
        row = session.scalars(select(WebhookDelivery)).one()
    engine.dispose()
    assert receiver.requests == []
    assert row.status == "failed" and "refused" in row.last_error and "127.0.0.1" in row.last_error


def test_a_receiver_answering_410_disables_the_subscription(hook_client, hook_settings, agency_a):
    receiver = Receiver(statuses=[410] * 5)  # 410 to any retry too
    try:
        hook = subscribe(hook_client, agency_a, receiver.url)
        produce(hook_settings, [published(agency_of(hook_settings, agency_a))])
        wait_for(lambda: receiver.requests)
    finally:
        receiver.close()
    disabled = wait_for(
        lambda: (
            (h := hook_client.get(f"/v1/webhooks/{hook['id']}", headers=agency_a).json())["active"]
            is False
            and h
        )
    )
    assert "410" in disabled["disabled_reason"]


def test_backoff_grows_and_stops_after_the_retry_window(hook_settings):
    waits = [delivery.next_attempt(n, 30.0, None).total_seconds() for n in range(1, 12)]
    assert all(later >= earlier * 0.6 for earlier, later in zip(waits, waits[1:], strict=False))
    assert waits[0] < 40 and max(waits) <= 6 * 3600 * 1.2
    assert delivery.next_attempt(1, 30.0, 600).total_seconds() >= 600  # Retry-After honoured


def test_subscription_changes_are_audited_without_the_secret(hook_client, agency_a, receiver):
    hook = subscribe(hook_client, agency_a, receiver.url)
    hook_client.patch(f"/v1/webhooks/{hook['id']}", headers=agency_a, json={"active": False})
    rotated = hook_client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=agency_a).json()
    hook_client.delete(f"/v1/webhooks/{hook['id']}", headers=agency_a)
    log = hook_client.get(
        f"/v1/audit?resource_type=webhook&resource_id={hook['id']}", headers=agency_a
    )
    assert [e["action"] for e in log.json()["items"]] == [
        "deleted",
        "rotated",
        "updated",
        "created",
    ]
    assert hook["secret"] not in log.text and rotated["secret"] not in log.text
