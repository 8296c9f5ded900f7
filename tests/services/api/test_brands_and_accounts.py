"""Brands and social accounts through the REST API, tenant-scoped, with problem details."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from shared.db import make_engine, make_session_factory
from shared.models import SocialAccount

pytestmark = pytest.mark.kafka


def test_brand_crud(client, agency_a):
    created = client.post("/v1/brands", headers=agency_a,
                          json={"name": "Boulangerie Dupont", "timezone": "Europe/Paris"})
    assert created.status_code == 201, created.text
    brand = created.json()
    assert brand["languages"] == ["fr", "en"]

    patched = client.patch(f"/v1/brands/{brand['id']}", headers=agency_a,
                           json={"timezone": "America/Montreal"})
    assert patched.json()["timezone"] == "America/Montreal"
    listed = client.get("/v1/brands", headers=agency_a).json()
    assert [b["id"] for b in listed["items"]] == [brand["id"]]
    assert client.delete(f"/v1/brands/{brand['id']}", headers=agency_a).status_code == 204
    assert client.get(f"/v1/brands/{brand['id']}", headers=agency_a).status_code == 404


def test_brands_paginate_with_a_cursor(client, agency_a):
    ids = {client.post("/v1/brands", headers=agency_a, json={"name": f"B{i}"}).json()["id"]
           for i in range(5)}
    first = client.get("/v1/brands?limit=2", headers=agency_a).json()
    second = client.get(f"/v1/brands?limit=2&cursor={first['next_cursor']}", headers=agency_a).json()
    third = client.get(f"/v1/brands?limit=2&cursor={second['next_cursor']}", headers=agency_a).json()
    seen = [b["id"] for page in (first, second, third) for b in page["items"]]
    assert len(seen) == 5 and set(seen) == ids
    assert third["next_cursor"] is None


def test_another_agency_gets_404_on_our_brand_and_account(client, agency_a, agency_b):
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "A's brand"}).json()
    account = client.post("/v1/accounts", headers=agency_a, json={
        "brand_id": brand["id"], "network": "sandbox", "handle": "a-brand"}).json()
    for path in (f"/v1/brands/{brand['id']}", f"/v1/accounts/{account['id']}"):
        answer = client.get(path, headers=agency_b)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/brands", headers=agency_b).json()["items"] == []
    assert client.patch(f"/v1/brands/{brand['id']}", headers=agency_b,
                        json={"name": "stolen"}).status_code == 404
    # and B cannot attach an account to A's brand
    assert client.post("/v1/accounts", headers=agency_b, json={
        "brand_id": brand["id"], "network": "sandbox", "handle": "x"}).status_code == 404


def test_credentials_are_encrypted_at_rest_and_never_returned(client, agency_a, api_settings):
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "Secretive"}).json()
    answer = client.post("/v1/accounts", headers=agency_a, json={
        "brand_id": brand["id"], "network": "sandbox", "handle": "secretive",
        "credentials": {"access_token": "super-secret-token-123"}})
    assert answer.status_code == 201
    assert "super-secret-token-123" not in answer.text
    assert answer.json()["has_credentials"] is True
    engine = make_engine(api_settings.database_url)
    with make_session_factory(engine)() as session:
        stored = session.scalars(select(SocialAccount)).one().credentials_encrypted
    engine.dispose()
    assert stored is not None and b"super-secret-token-123" not in stored


def test_unknown_network_is_a_clear_422(client, agency_a):
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "N"}).json()
    answer = client.post("/v1/accounts", headers=agency_a, json={
        "brand_id": brand["id"], "network": "myspace", "handle": "tom"})
    assert answer.status_code == 422
    assert "unknown network 'myspace'" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "body", "status", "fragment"),
    [
        ({}, {"name": "x"}, 401, "Authorization: Bearer"),
        ({"Authorization": "Bearer nope"}, {"name": "x"}, 401, "unknown or revoked"),
        (None, '{"name": ', 422, "JSON"),
        (None, {"name": "x", "colour": "red"}, 422, "colour"),
        (None, {"name": 42}, 422, "name"),
        (None, {"name": "x", "timezone": "Mars/Olympus"}, 422, "unknown time zone"),
        (None, {"name": "x", "languages": ["klingon"]}, 422, "unsupported languages"),
        (None, {}, 422, "name"),
    ],
)
def test_bad_input_gets_a_problem_document_not_a_500(client, agency_a, headers, body, status, fragment):
    headers = agency_a if headers is None else headers
    if isinstance(body, str):
        answer = client.post("/v1/brands", headers={**headers, "content-type": "application/json"},
                             content=body)
    else:
        answer = client.post("/v1/brands", headers=headers, json=body)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status and problem["type"].startswith("https://")
    assert fragment in problem["detail"]


def test_bad_cursor_is_a_400(client, agency_a):
    answer = client.get("/v1/brands?cursor=%%%garbage", headers=agency_a)
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("bad-cursor")


def test_status_lists_every_service(client, agency_a):
    deadline = time.monotonic() + 30  # the consumer joins its group in the background
    while True:
        body = client.get("/v1/status", headers=agency_a).json()
        if body["services"][0]["ready"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [s["service"] for s in body["services"]] == ["api", "ingest", "generation", "review", "publish"]
    api = body["services"][0]
    assert api["ready"] is True and api["checks"]["kafka"] == "ok"
