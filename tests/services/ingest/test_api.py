"""The ingest routes, served by the api process: signed webhooks, signals, watch-lists, feeds
(SSRF refused), mentions, insights (JSON, CSV, SVG) and recommendations."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.api.main import create_app
from services.ingest.models import Mention, TrackedPost
from services.ingest.webhooks import sign_generic
from shared.crypto import SecretBox
from shared.db import transaction
from tests.services.ingest.conftest import Tenant, add_account, new_tenant

pytestmark = pytest.mark.kafka


@pytest.fixture
def client(ingest_settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(ingest_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def tenant(ingest_factory) -> Tenant:  # type: ignore[no-untyped-def]
    return new_tenant(ingest_factory)


def test_telegram_webhook_needs_the_secret_token(client, tenant, ingest_factory, ingest_settings):
    box = SecretBox.from_settings(ingest_settings)
    account = add_account(ingest_factory, tenant, "telegram", "bot", {"bot_token": "x",
                          "webhook_secret": "s3cret"}, box=box)
    update = {"update_id": 1, "message": {"message_id": 42, "date": 1748854800,
              "from": {"username": "camille"}, "chat": {"id": -100}, "text": "Vous êtes nuls"}}
    url = f"/v1/inbound/telegram/{account}"
    assert client.post(url, json=update).status_code == 401
    assert client.post(url, json=update, headers={
        "X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code == 401
    good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    assert client.post(url, json=update, headers=good).json() == {"received": 1, "new": 1}
    assert client.post(url, json=update, headers=good).json() == {"received": 1, "new": 0}
    with ingest_factory() as session:
        stored = session.scalars(select(Mention)).one()
    assert (stored.external_id, stored.language, stored.sentiment_label) == ("42", "fr", "negative")


def test_meta_webhook_checks_the_body_hmac_and_answers_the_handshake(
        client, tenant, ingest_factory, ingest_settings):
    box = SecretBox.from_settings(ingest_settings)
    account = add_account(ingest_factory, tenant, "facebook", "page", {
        "access_token": "t", "app_secret": "appsecret", "verify_token": "vt"}, box=box)
    body = json.dumps({"object": "page", "entry": [{"id": "p", "changes": [{"field": "feed",
        "value": {"item": "comment", "verb": "add", "comment_id": "p_1_c9", "post_id": "p_1",
                  "message": "Love it!", "from": {"name": "Sam"}, "created_time": 1748854800}}]}]})
    url = f"/v1/inbound/facebook/{account}"
    bad = {"X-Hub-Signature-256": "sha256=" + "0" * 64, "Content-Type": "application/json"}
    assert client.post(url, content=body, headers=bad).status_code == 401
    signature = hmac.new(b"appsecret", body.encode(), hashlib.sha256).hexdigest()
    good = {"X-Hub-Signature-256": f"sha256={signature}", "Content-Type": "application/json"}
    assert client.post(url, content=body, headers=good).json()["new"] == 1
    handshake = {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1234"}
    assert client.get(url, params=handshake).text == "1234"
    assert client.get(url, params={**handshake, "hub.verify_token": "no"}).status_code == 403


def test_generic_webhook_is_signed_with_a_timestamp(client, tenant, ingest_factory,
                                                   ingest_settings):
    box = SecretBox.from_settings(ingest_settings)
    account = add_account(ingest_factory, tenant, "mastodon", "shop", {
        "access_token": "t", "webhook_secret": "k"}, box=box)
    body = json.dumps({"mentions": [{"external_id": "109", "author": "a", "text": "Great news!",
                                     "created_at": "2025-06-02T10:00:00Z"}]}).encode()
    url = f"/v1/inbound/mastodon/{account}"
    old = sign_generic("k", body, int(time.time()) - 3600)
    assert client.post(url, content=body, headers=old).status_code == 401  # a replay
    assert client.post(url, content=body, headers=sign_generic("k", body, int(time.time()))
                       ).json()["new"] == 1
    assert client.post(f"/v1/inbound/x/{account}", content=body).status_code == 404


def test_watch_terms_crud_and_signals(client, tenant):
    base = f"/v1/brands/{tenant.brand_id}/watch-terms"
    created = client.post(base, json={"kind": "hashtag", "term": "#Soldes"}, headers=tenant.headers)
    assert created.status_code == 201 and created.json()["term"] == "soldes"
    assert client.post(base, json={"kind": "hashtag", "term": "soldes"},
                       headers=tenant.headers).status_code == 409
    assert client.post(base, json={"kind": "colour", "term": "x"},
                       headers=tenant.headers).status_code == 422
    listed = client.get(base, headers=tenant.headers).json()["items"]
    assert [t["term"] for t in listed] == ["soldes"]
    answer = client.post("/v1/signals", headers=tenant.headers, json={
        "brand_id": tenant.brand_id, "source": "newsletter",
        "items": [{"text": "Les #soldes commencent"}]})
    assert answer.status_code == 202 and answer.json()["accepted"] == 1
    deleted = client.delete(f"{base}/{created.json()['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    other = new_tenant_headers(client, tenant)
    assert client.get(base, headers=other).status_code == 404


def new_tenant_headers(client, tenant):  # type: ignore[no-untyped-def]
    context = client.app.state.context
    other = new_tenant(context.session_factory, "Other")
    return other.headers


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/feed.xml", "http://10.0.0.8/rss", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/rss", "http://localhost:8000/rss"])
def test_feed_urls_to_private_addresses_are_refused(client, tenant, url):
    answer = client.post(f"/v1/brands/{tenant.brand_id}/feeds", json={"url": url},
                         headers=tenant.headers)
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("url-refused")


def _published_posts(factory, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    """Instagram images on Tuesday evenings do best; text posts on Monday mornings do not."""
    tuesday_evening = datetime(2025, 6, 3, 17, 30, tzinfo=UTC)  # 19:30 in Paris
    monday_morning = datetime(2025, 6, 2, 7, 0, tzinfo=UTC)
    with transaction(factory) as session:
        for week in range(8):
            for index, (when, kind, likes) in enumerate([(tuesday_evening, "image", 90),
                                                          (monday_morning, "text", 30),
                                                          (monday_morning, "link", 35)]):
                session.add(TrackedPost(
                    agency_id=tenant.agency_id, brand_id=tenant.brand_id, account_id="acc",
                    network="instagram", post_id=f"p{week}{index}", external_id=f"e{week}{index}",
                    content_type=kind, hashtags=["rentrée"] if kind == "image" else [],
                    published_at=when + timedelta(weeks=week), likes=likes + week, replies=3,
                    impressions=1000, metrics_at=when + timedelta(weeks=week, days=1)))


def test_insights_recommendations_csv_and_chart(client, tenant, ingest_factory):
    _published_posts(ingest_factory, tenant)
    base = f"/v1/brands/{tenant.brand_id}"
    insights = client.get(f"{base}/insights", headers=tenant.headers).json()
    assert insights["measured"] == 24
    by_type = {row["key"]: row for row in insights["breakdowns"]["content_type"]}
    assert by_type["image"]["median_engagement"] > by_type["text"]["median_engagement"]
    assert {"network", "hashtag", "hour_of_week"} <= set(insights["breakdowns"])
    items = client.get(f"{base}/recommendations", headers=tenant.headers).json()["items"]
    top = items[0]
    print("\n" + top["en"] + "\n" + top["fr"])
    assert "Image posts on Instagram on Tuesday evenings" in top["en"]
    assert "Les publications avec image sur Instagram le mardi soir" in top["fr"]
    assert top["posts"] == 8 and top["confidence"] >= 0.99 and top["lift"] > 2
    csv = client.get(f"{base}/insights?format=csv", headers=tenant.headers)
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 25
    assert client.get(f"{base}/insights.csv", headers=tenant.headers).text == csv.text
    chart = client.get(f"{base}/insights/chart.svg?lang=fr", headers=tenant.headers)
    assert chart.headers["content-type"] == "image/svg+xml"
    assert chart.text.startswith("<svg") and "Engagement médian" in chart.text


def test_mentions_are_listed_per_brand_with_a_sentiment_filter(client, tenant, ingest_factory,
                                                               ingest_settings):
    box = SecretBox.from_settings(ingest_settings)
    account = add_account(ingest_factory, tenant, "telegram", "bot", {"webhook_secret": "s"},
                          box=box)
    for index, text in enumerate(["Génial, merci !", "Nul, très déçu", "Vous ouvrez quand ?"]):
        client.post(f"/v1/inbound/telegram/{account}", headers={
            "X-Telegram-Bot-Api-Secret-Token": "s"}, json={"message": {
                "message_id": index + 1, "date": 1748854800 + index, "text": text}})
    page = client.get(f"/v1/brands/{tenant.brand_id}/mentions", headers=tenant.headers).json()
    assert len(page["items"]) == 3
    negative = client.get(f"/v1/brands/{tenant.brand_id}/mentions?sentiment=negative",
                          headers=tenant.headers).json()["items"]
    assert [m["text"] for m in negative] == ["Nul, très déçu"]
