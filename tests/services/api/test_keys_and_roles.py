"""API keys at /v1/keys (shown once, stored hashed, rotated, revoked) and what each role may do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.api.keys import hash_key
from shared.db import make_engine, make_session_factory
from shared.models import ApiKey

pytestmark = pytest.mark.kafka


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(client, admin, role: str, name: str = "k") -> dict:
    answer = client.post("/v1/keys", headers=admin, json={"name": name, "role": role})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_key_is_shown_once_and_stored_as_a_hash(client, agency_a, api_settings):
    created = new_key(client, agency_a, "editor", "CRM")
    assert created["key"].startswith(f"tt_{created['prefix']}_") and created["active"] is True
    listed = client.get("/v1/keys", headers=agency_a)
    assert created["key"] not in listed.text and "key_hash" not in listed.text
    assert {k["id"] for k in listed.json()["items"]} >= {created["id"]}
    assert "key" not in client.get(f"/v1/keys/{created['id']}", headers=agency_a).json()
    engine = make_engine(api_settings.database_url)
    with make_session_factory(engine)() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.id == created["id"])).one()
    engine.dispose()
    assert row.key_hash == hash_key(created["key"]) and created["key"] not in row.key_hash
    assert client.get("/v1/brands", headers=bearer(created["key"])).status_code == 200


def test_rotating_a_key_revokes_the_old_one_and_keeps_its_role(client, agency_a):
    old = new_key(client, agency_a, "approver", "bot")
    rotated = client.post(f"/v1/keys/{old['id']}/rotate", headers=agency_a)
    assert rotated.status_code == 201
    new = rotated.json()
    assert (new["name"], new["role"]) == ("bot", "approver") and new["key"] != old["key"]
    assert client.get("/v1/brands", headers=bearer(old["key"])).status_code == 401
    assert client.get("/v1/brands", headers=bearer(new["key"])).status_code == 200
    assert client.get(f"/v1/keys/{old['id']}", headers=agency_a).json()["active"] is False
    again = client.post(f"/v1/keys/{old['id']}/rotate", headers=agency_a)
    assert again.status_code == 409 and again.json()["type"].endswith("key-revoked")


def test_a_revoked_key_stops_working_at_once(client, agency_a):
    key = new_key(client, agency_a, "viewer")
    assert client.delete(f"/v1/keys/{key['id']}", headers=agency_a).status_code == 204
    answer = client.get("/v1/brands", headers=bearer(key["key"]))
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]


def test_the_last_admin_key_cannot_be_revoked(client, agency_a):
    own = [
        k for k in client.get("/v1/keys", headers=agency_a).json()["items"] if k["role"] == "admin"
    ]
    answer = client.delete(f"/v1/keys/{own[0]['id']}", headers=agency_a)
    assert answer.status_code == 409 and answer.json()["type"].endswith("last-admin-key")
    second = new_key(client, agency_a, "admin")
    assert client.delete(f"/v1/keys/{own[0]['id']}", headers=agency_a).status_code == 204
    assert client.get("/v1/keys", headers=bearer(second["key"])).status_code == 200


def test_unknown_role_is_a_422(client, agency_a):
    answer = client.post("/v1/keys", headers=agency_a, json={"name": "x", "role": "owner"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["pointer"] == "role"


def _forbidden(answer) -> bool:
    return answer.status_code == 403 and answer.json()["type"].endswith("forbidden-role")


def test_role_limits(client, agency_a):
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "Roles"}).json()
    viewer = bearer(new_key(client, agency_a, "viewer")["key"])
    approver = bearer(new_key(client, agency_a, "approver")["key"])
    editor = bearer(new_key(client, agency_a, "editor")["key"])
    some_key = new_key(client, agency_a, "viewer")

    # a viewer reads, and creates nothing
    assert client.get(f"/v1/brands/{brand['id']}", headers=viewer).status_code == 200
    assert _forbidden(client.post("/v1/brands", headers=viewer, json={"name": "no"}))
    assert _forbidden(
        client.post(
            "/v1/accounts",
            headers=viewer,
            json={"brand_id": brand["id"], "network": "sandbox", "handle": "no"},
        )
    )
    assert _forbidden(
        client.patch(f"/v1/brands/{brand['id']}", headers=viewer, json={"name": "no"})
    )
    assert _forbidden(
        client.post(
            "/v1/webhooks",
            headers=viewer,
            json={"url": "https://example.com/h", "events": ["posts.published"]},
        )
    )
    # an approver manages no keys, no brands, no webhooks, and reads no audit log
    assert _forbidden(
        client.post("/v1/keys", headers=approver, json={"name": "x", "role": "admin"})
    )
    assert _forbidden(client.get("/v1/keys", headers=approver))
    assert _forbidden(client.delete(f"/v1/keys/{some_key['id']}", headers=approver))
    assert _forbidden(client.post(f"/v1/keys/{some_key['id']}/rotate", headers=approver))
    assert _forbidden(client.post("/v1/brands", headers=approver, json={"name": "no"}))
    assert _forbidden(client.get("/v1/audit", headers=approver))
    # an editor edits brands and accounts but manages no keys
    assert (
        client.patch(f"/v1/brands/{brand['id']}", headers=editor, json={"name": "ok"}).status_code
        == 200
    )
    assert (
        client.post(
            "/v1/accounts",
            headers=editor,
            json={"brand_id": brand["id"], "network": "sandbox", "handle": "ed"},
        ).status_code
        == 201
    )
    assert _forbidden(client.post("/v1/keys", headers=editor, json={"name": "x", "role": "admin"}))
    assert _forbidden(client.delete(f"/v1/brands/{brand['id']}", headers=editor))


def test_a_viewer_cannot_approve_a_post(client, agency_a, api_settings):
    """Through the review service's decision route (mounted in the api process), on a post of
    the viewer's own agency: the role is what refuses it, not the post's absence."""
    from tests.services.api.test_tenant_isolation import _tables_for, insert_generic_row
    from tests.services.api.test_webhooks import agency_of

    document = client.get("/openapi.json").json()
    assert "/v1/posts/{post_id}/decision" in document["paths"], "review's route is not mounted"
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "Posts"}).json()
    account = client.post(
        "/v1/accounts",
        headers=agency_a,
        json={"brand_id": brand["id"], "network": "sandbox", "handle": "posts"},
    ).json()
    owned = {
        "agency_id": agency_of(api_settings, agency_a),
        "brand_id": brand["id"],
        "account_id": account["id"],
        "state": "in_review",
        "network": "sandbox",
    }
    post_id = "0123456789abcdef0123456789abcdef"
    engine = make_engine(api_settings.database_url)
    with make_session_factory(engine)() as session:
        for model in _tables_for("post"):
            if not model.__module__.startswith("services.review"):
                continue
            insert_generic_row(session, model, post_id, owned)
        session.commit()
    engine.dispose()
    viewer = bearer(new_key(client, agency_a, "viewer")["key"])
    answer = client.post(
        f"/v1/posts/{post_id}/decision", headers=viewer, json={"decision": "approve"}
    )
    assert answer.status_code == 403, answer.text
