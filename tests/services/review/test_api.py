"""The review REST API: tenant-scoped (another agency's post is a 404), roles checked, cursor
pagination, edits with history, comments, cancel, policies and the audit log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.api.main import create_app
from services.review import desk
from shared.config import Settings
from tests.services.review.conftest import Tenant, draft, make_tenant

pytestmark = pytest.mark.kafka


@pytest.fixture
def api(kafka_settings: Settings, engine) -> Iterator[TestClient]:
    with TestClient(create_app(kafka_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def two(session_factory: sessionmaker[Session]) -> tuple[Tenant, Tenant, list[str]]:
    with session_factory() as session:
        a, b = make_tenant(session, "A"), make_tenant(session, "B")
        ids = []
        for i in range(3):
            data = draft(a, text=f"Publication {i}", network="sandbox" if i < 2 else "mastodon")
            desk.receive_draft(session, a.agency_id, data)
            ids.append(data.draft_id)
        session.commit()
    return a, b, ids


def test_posts_are_listed_filtered_and_paginated_per_agency(api, two):
    a, b, ids = two
    first = api.get("/v1/posts", params={"limit": 2, "brand_id": a.brand_id}, headers=a.headers())
    assert first.status_code == 200 and len(first.json()["items"]) == 2
    rest = api.get(
        "/v1/posts", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=a.headers()
    ).json()
    assert {p["id"] for p in first.json()["items"] + rest["items"]} == set(ids)
    assert rest["next_cursor"] is None
    only = api.get(
        "/v1/posts", params={"network": "mastodon", "state": "in_review"}, headers=a.headers()
    ).json()["items"]
    assert [p["id"] for p in only] == [ids[2]]
    assert api.get("/v1/posts", headers=b.headers()).json()["items"] == []
    assert (
        api.get("/v1/posts", params={"brand_id": a.brand_id}, headers=b.headers()).status_code
        == 404
    )


def test_another_agencys_post_is_a_404_for_reading_and_writing(api, two):
    a, b, ids = two
    assert api.get(f"/v1/posts/{ids[0]}", headers=b.headers()).status_code == 404
    assert (
        api.patch(f"/v1/posts/{ids[0]}", json={"text": "x"}, headers=b.headers()).status_code == 404
    )
    assert (
        api.post(
            f"/v1/posts/{ids[0]}/decision", json={"decision": "approve"}, headers=b.headers()
        ).status_code
        == 404
    )
    assert (
        api.get(f"/v1/brands/{a.brand_id}/approval-policy", headers=b.headers()).status_code == 404
    )
    assert (
        api.post(f"/v1/brands/{a.brand_id}/pause", json={}, headers=b.headers()).status_code == 404
    )


def test_edit_comment_decide_and_read_the_whole_story(api, two):
    a, _, ids = two
    post = ids[0]
    edited = api.patch(
        f"/v1/posts/{post}",
        json={"text": "Publication zéro", "version": 2},
        headers=a.headers("editor"),
    )
    assert edited.status_code == 200 and edited.json()["version"] == 3
    stale = api.patch(
        f"/v1/posts/{post}", json={"text": "autre", "version": 2}, headers=a.headers("editor")
    )
    assert stale.status_code == 409 and stale.json()["state"] == "in_review"
    assert (
        api.post(
            f"/v1/posts/{post}/comments",
            json={"body": "OK pour moi"},
            headers=a.headers("approver"),
        ).status_code
        == 201
    )
    assert (
        api.post(
            f"/v1/posts/{post}/comments",
            json={"body": "x", "extra": 1},
            headers=a.headers("approver"),
        ).status_code
        == 422
    )
    decided = api.post(
        f"/v1/posts/{post}/decision",
        json={"decision": "approve", "publish_at": "2031-01-02T09:30:00+01:00"},
        headers=a.headers("approver"),
    )
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    story = api.get(f"/v1/posts/{post}", headers=a.headers("viewer")).json()
    assert (
        story["history"][0]["after"] == "Publication zéro"
        and "+Publication zéro" in story["history"][0]["diff"]
    )
    assert story["comments"][0]["body"] == "OK pour moi"
    assert [
        (e["from_state"], e["to_state"]) for e in story["audit"] if e["action"] == "transition"
    ] == [("draft", "in_review"), ("in_review", "approved")]
    again = api.post(
        f"/v1/posts/{post}/decision", json={"decision": "approve"}, headers=a.headers()
    )
    assert again.status_code == 409 and again.json()["state"] == "approved"
    cancelled = api.post(
        f"/v1/posts/{post}/cancel", json={"reason": "plus d'actualité"}, headers=a.headers("editor")
    )
    assert cancelled.json()["state"] == "cancelled"
    log = api.get("/v1/review/audit", params={"post_id": post}, headers=a.headers()).json()["items"]
    assert {"edited", "commented", "transition"} <= {e["action"] for e in log}


def test_viewers_read_but_do_not_write(api, two):
    a, _, ids = two
    assert api.get(f"/v1/posts/{ids[0]}", headers=a.headers("viewer")).status_code == 200
    for method, path, body in [
        ("patch", f"/v1/posts/{ids[0]}", {"text": "x"}),
        ("post", f"/v1/posts/{ids[0]}/decision", {"decision": "reject"}),
        ("post", f"/v1/posts/{ids[0]}/comments", {"body": "x"}),
        ("post", f"/v1/posts/{ids[0]}/cancel", {}),
        ("post", f"/v1/brands/{a.brand_id}/pause", {}),
        (
            "put",
            f"/v1/brands/{a.brand_id}/approval-policy",
            {"steps": [{"name": "x", "roles": ["editor"]}]},
        ),
    ]:
        assert (
            getattr(api, method)(path, json=body, headers=a.headers("viewer")).status_code == 403
        ), path


def test_the_approval_policy_round_trips_and_rejects_unknown_roles(api, two):
    a, _, _ = two
    body = {
        "steps": [
            {"name": "Agence", "roles": ["editor"]},
            {"name": "Client", "roles": ["approver"]},
        ],
        "auto_approve": True,
        "auto_approve_max_risk": 0.1,
        "crisis_threshold": 0.7,
    }
    assert (
        api.put(
            f"/v1/brands/{a.brand_id}/approval-policy", json=body, headers=a.headers()
        ).status_code
        == 200
    )
    assert api.get(f"/v1/brands/{a.brand_id}/approval-policy", headers=a.headers()).json() == {
        "brand_id": a.brand_id,
        **body,
    }
    bad = {"steps": [{"name": "x", "roles": ["viewer"]}]}
    assert (
        api.put(
            f"/v1/brands/{a.brand_id}/approval-policy", json=bad, headers=a.headers()
        ).status_code
        == 422
    )


def test_pause_twice_is_a_conflict(api, two):
    a, _, _ = two
    assert (
        api.post(
            f"/v1/brands/{a.brand_id}/pause",
            json={"reason": "bad buzz"},
            headers=a.headers("editor"),
        ).json()["paused"]
        is True
    )
    assert (
        api.post(f"/v1/brands/{a.brand_id}/pause", json={}, headers=a.headers("editor")).status_code
        == 409
    )
    bad = api.post(
        f"/v1/brands/{a.brand_id}/resume", json={"held_posts": "reschedule"}, headers=a.headers()
    )
    assert bad.status_code == 422
