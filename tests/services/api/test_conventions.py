"""The agency API's conventions: Idempotency-Key on POST, ETag / If-Match, rate limits, problem
details for unknown routes and methods, OpenAPI examples, and the audit log."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.api.main import create_app
from services.api.ratelimit import TokenBuckets
from shared.db import make_engine, make_session_factory
from shared.models import Brand

pytestmark = pytest.mark.kafka


def brands_named(settings, name: str) -> int:
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        count = session.scalar(select(func.count()).select_from(Brand).where(Brand.name == name))
    engine.dispose()
    return int(count or 0)


# --- Idempotency-Key ----------------------------------------------------------------------


def test_the_same_key_and_body_returns_the_first_response(client, agency_a, api_settings):
    headers = {**agency_a, "Idempotency-Key": "brand-once"}
    first = client.post("/v1/brands", headers=headers, json={"name": "Once"})
    second = client.post("/v1/brands", headers=headers, json={"name": "Once"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert first.headers["etag"] == second.headers["etag"]
    assert (
        second.headers["idempotent-replayed"] == "true"
        and "idempotent-replayed" not in first.headers
    )
    assert brands_named(api_settings, "Once") == 1


def test_the_same_key_with_another_body_is_refused(client, agency_a, api_settings):
    headers = {**agency_a, "Idempotency-Key": "reused"}
    assert client.post("/v1/brands", headers=headers, json={"name": "First"}).status_code == 201
    answer = client.post("/v1/brands", headers=headers, json={"name": "Second"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("idempotency-key-reused")
    assert brands_named(api_settings, "Second") == 0


def test_idempotency_keys_belong_to_one_agency(client, agency_a, agency_b):
    a = client.post("/v1/brands", headers={**agency_a, "Idempotency-Key": "k1"}, json={"name": "A"})
    b = client.post("/v1/brands", headers={**agency_b, "Idempotency-Key": "k1"}, json={"name": "A"})
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


def test_an_error_response_is_replayed_but_a_rejected_key_is_not_stored(client, agency_a):
    headers = {**agency_a, "Idempotency-Key": "bad-body"}
    first = client.post("/v1/brands", headers=headers, json={"name": "x", "colour": "red"})
    second = client.post("/v1/brands", headers=headers, json={"name": "x", "colour": "red"})
    assert first.status_code == second.status_code == 422
    assert second.headers["idempotent-replayed"] == "true"
    too_long = client.post(
        "/v1/brands", headers={**agency_a, "Idempotency-Key": "k" * 256}, json={"name": "x"}
    )
    assert too_long.status_code == 400 and too_long.json()["type"].endswith("bad-idempotency-key")


def test_concurrent_posts_with_one_key_create_one_resource(live_api, agency_a, api_settings):
    key = str(uuid.uuid4())
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        with httpx.Client(base_url=live_api.url, timeout=60) as http:
            barrier.wait()
            answers.append(
                http.post(
                    "/v1/brands",
                    json={"name": "Raced"},
                    headers={**agency_a, "Idempotency-Key": key},
                )
            )

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert brands_named(api_settings, "Raced") == 1
    created = [a for a in answers if a.status_code == 201]
    assert created and {a.json()["id"] for a in created} == {created[0].json()["id"]}
    # a request that found the first still running either waited for it or was told to retry
    assert all(a.status_code in (201, 409) for a in answers), [a.status_code for a in answers]
    assert sum("idempotent-replayed" not in a.headers for a in created) == 1


# --- ETag / If-Match ----------------------------------------------------------------------


def test_etag_and_if_match_on_brands(client, agency_a):
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "Tagged"}).json()
    read = client.get(f"/v1/brands/{brand['id']}", headers=agency_a)
    etag = read.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = client.get(f"/v1/brands/{brand['id']}", headers={**agency_a, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag

    patched = client.patch(
        f"/v1/brands/{brand['id']}",
        headers={**agency_a, "If-Match": etag},
        json={"name": "Retagged"},
    )
    assert patched.status_code == 200 and patched.headers["etag"] != etag
    stale = client.patch(
        f"/v1/brands/{brand['id']}",
        headers={**agency_a, "If-Match": etag},
        json={"name": "Lost update"},
    )
    assert stale.status_code == 412 and stale.json()["type"].endswith("etag-mismatch")
    assert stale.headers["etag"] == patched.headers["etag"]
    assert client.get(f"/v1/brands/{brand['id']}", headers=agency_a).json()["name"] == "Retagged"
    weak = client.delete(
        f"/v1/brands/{brand['id']}",
        headers={**agency_a, "If-Match": "W/" + patched.headers["etag"]},
    )
    assert weak.status_code == 412  # If-Match uses the strong comparison
    assert (
        client.delete(
            f"/v1/brands/{brand['id']}", headers={**agency_a, "If-Match": patched.headers["etag"]}
        ).status_code
        == 204
    )


def test_etag_and_if_match_on_accounts(client, agency_a):
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "B"}).json()
    account = client.post(
        "/v1/accounts",
        headers=agency_a,
        json={"brand_id": brand["id"], "network": "sandbox", "handle": "etag"},
    )
    etag = account.headers["etag"]
    assert (
        client.get(f"/v1/accounts/{account.json()['id']}", headers=agency_a).headers["etag"] == etag
    )
    path = f"/v1/accounts/{account.json()['id']}"
    assert (
        client.patch(
            path, headers={**agency_a, "If-Match": etag}, json={"display_name": "new"}
        ).status_code
        == 200
    )
    assert client.delete(path, headers={**agency_a, "If-Match": etag}).status_code == 412
    assert client.delete(path, headers={**agency_a, "If-Match": "*"}).status_code == 204


# --- rate limits ----------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(api_settings, agency_a, agency_b):
    settings = api_settings.model_copy(update={"rate_limit_per_minute": 1, "rate_limit_burst": 3})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        answers = [client.get("/v1/brands", headers=agency_a) for _ in range(4)]
        other = client.get("/v1/brands", headers=agency_b)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["ratelimit-policy"] == '"per-key";q=3;w=180'
    limited = answers[3]
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["status"] == 429
    assert other.status_code == 200  # the bucket is per key


def test_token_bucket_refills_with_time():
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0])
    assert [buckets.take("k").allowed for _ in range(3)] == [True, True, False]
    assert buckets.take("k").retry_after_s == 1
    now[0] += 1.0
    assert buckets.take("k").allowed and not buckets.take("k").allowed


# --- problem details everywhere, and the OpenAPI document --------------------------------


def test_unknown_routes_and_methods_are_problem_documents(client, agency_a):
    missing = client.get("/v1/nothing-here", headers=agency_a)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = client.put("/v1/brands", headers=agency_a, json={})
    assert wrong.status_code == 405 and wrong.headers["content-type"] == "application/problem+json"
    assert "GET" in wrong.headers["allow"] and wrong.json()["status"] == 405


def test_openapi_documents_examples_problems_and_idempotency(client):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    for name in (
        "BrandCreate",
        "BrandRead",
        "AccountCreate",
        "AccountRead",
        "KeyCreate",
        "KeyCreated",
        "WebhookCreate",
        "WebhookCreated",
        "DeliveryRead",
        "AuditEntryRead",
    ):
        assert schemas[name].get("examples"), f"{name} has no example"
    post_brand = document["paths"]["/v1/brands"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post_brand["parameters"])
    assert "application/problem+json" in post_brand["responses"]["422"]["content"]
    assert "HTTPValidationError" not in schemas
    patch_brand = document["paths"]["/v1/brands/{brand_id}"]["patch"]
    assert any(p["name"] == "if-match" for p in patch_brand["parameters"])
    assert "412" in patch_brand["responses"]


# --- audit log ----------------------------------------------------------------------------


def test_every_change_is_audited_without_secrets(client, agency_a):
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "Audited"}).json()
    client.patch(
        f"/v1/brands/{brand['id']}", headers=agency_a, json={"timezone": "America/Montreal"}
    )
    account = client.post(
        "/v1/accounts",
        headers=agency_a,
        json={
            "brand_id": brand["id"],
            "network": "sandbox",
            "handle": "aud",
            "credentials": {"access_token": "very-secret-token"},
        },
    ).json()
    client.patch(
        f"/v1/accounts/{account['id']}",
        headers=agency_a,
        json={"credentials": {"access_token": "another-secret"}},
    )
    key = client.post(
        "/v1/keys", headers=agency_a, json={"name": "audited", "role": "viewer"}
    ).json()
    client.delete(f"/v1/keys/{key['id']}", headers=agency_a)
    client.delete(f"/v1/brands/{brand['id']}", headers=agency_a)

    log = client.get("/v1/audit?limit=200", headers=agency_a)
    assert log.status_code == 200
    for secret in ("very-secret-token", "another-secret", key["key"]):
        assert secret not in log.text
    entries = log.json()["items"]
    seen = [(e["resource_type"], e["action"]) for e in reversed(entries)]
    assert seen == [
        ("brand", "created"),
        ("brand", "updated"),
        ("account", "created"),
        ("account", "updated"),
        ("key", "created"),
        ("key", "revoked"),
        ("brand", "deleted"),
    ]
    update = next(e for e in entries if e["action"] == "updated" and e["resource_type"] == "brand")
    assert update["before"]["timezone"] == "Europe/Paris"
    assert update["after"]["timezone"] == "America/Montreal"
    assert update["actor"].startswith("key:")
    account_entry = next(
        e for e in entries if e["resource_type"] == "account" and e["action"] == "updated"
    )
    assert account_entry["after"]["has_credentials"] is True
    assert account_entry["after"]["credentials_replaced"] is True

    only_brand = client.get(
        f"/v1/audit?resource_type=brand&resource_id={brand['id']}", headers=agency_a
    ).json()["items"]
    assert [e["action"] for e in only_brand] == ["deleted", "updated", "created"]
    first = client.get("/v1/audit?limit=3", headers=agency_a).json()
    second = client.get(f"/v1/audit?limit=3&cursor={first['next_cursor']}", headers=agency_a).json()
    assert {e["id"] for e in first["items"]}.isdisjoint(e["id"] for e in second["items"])


def test_another_agency_sees_none_of_our_audit_log(client, agency_a, agency_b):
    client.post("/v1/brands", headers=agency_a, json={"name": "Private"})
    assert client.get("/v1/audit", headers=agency_b).json()["items"] == []
