"""Tenant isolation matrix: for every route of the app with a path parameter, agency B's admin key
gets a 404 problem (not a 403, not data) on agency A's resources.

Routes are discovered from the app when the test runs, so routes other services add later are
covered without editing this file. Path parameters are filled with agency A's rows: the api's
own resources are made through the API; for any other `<name>_id` the test finds the tenant-
owned table(s) named after it (`term_id` -> `ingest_watch_terms`) and inserts a row for agency
A with generic values. Request bodies are generated from the OpenAPI schema (ids in the body
are A's too), so validation passes and the ownership check is what answers.
A route with a parameter the test cannot fill fails the test until it is listed below with a
reason, or until its table follows the naming convention.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Session

from services.api.main import create_app
from services.api.webhooks import delivery
from shared.db import Base, TenantOwned, make_engine, make_session_factory, new_id
from tests.services.api.test_webhooks import agency_of, published

pytestmark = pytest.mark.kafka

# (method, path) -> why it is not a tenant resource reached with an API key.
EXCLUDED: dict[tuple[str, str], str] = {
    **{
        (m, p): "the sandbox network simulates a public social network: no API key, no tenant"
        for m, p in [
            ("POST", "/sandbox/api/accounts/{handle}/posts"),
            ("GET", "/sandbox/api/accounts/{handle}/posts"),
            ("GET", "/sandbox/api/accounts/{handle}/posts/{external_id}"),
            ("GET", "/sandbox/api/accounts/{handle}/mentions"),
            ("GET", "/sandbox/api/accounts/{handle}/metrics"),
            ("GET", "/sandbox/{handle}"),
        ]
    },
    (
        "POST",
        "/v1/inbound/{network}/{account_id}",
    ): "a social network's callback: authenticated by the network's signature, not an API key",
    (
        "GET",
        "/v1/inbound/{network}/{account_id}",
    ): "a social network's subscription handshake (hub.challenge): no API key",
}
FIXED_VALUES = {"network": "sandbox", "handle": "someone"}
# Valid values for body fields whose schema alone does not say (a validator checks them).
FIELD_HINTS: dict[str, Any] = {
    "role": "admin",
    "roles": ["admin"],
    "network": "sandbox",
    "networks": ["sandbox"],
    "language": "fr",
    "languages": ["fr"],
    "timezone": "Europe/Paris",
    "decision": "approve",
    "url": "https://example.com/feed",
    "events": ["posts.published"],
    "handle": "someone",
}


def _tables_for(name: str) -> list[Any]:
    """Tenant-owned mapped classes whose table is named after `name` (`post` -> *_posts)."""
    found = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        table = getattr(cls, "__tablename__", "")
        if not issubclass(cls, TenantOwned):
            continue
        if table in (name, f"{name}s") or table.endswith((f"_{name}", f"_{name}s")):
            found.append(cls)
    return found


def _value_for(column: Any, owned: dict[str, str]) -> Any:
    for key in column.foreign_keys:
        target = key.target_fullname.split(".")[0]
        if target == "agencies":
            return owned["agency_id"]
        if target == "brands":
            return owned["brand_id"]
        if target == "social_accounts":
            return owned["account_id"]
    if column.name in owned:
        return owned[column.name]
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 0
    if isinstance(kind, Float | Numeric):
        return 0.0
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, LargeBinary):
        return b""
    if (
        isinstance(kind, DateTime)
        or getattr(kind, "impl", None) is not None
        and isinstance(kind.impl, DateTime)
    ):
        return datetime.now(UTC)
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 32
        return f"iso-{new_id()}"[:length]
    raise LookupError(f"no generic value for {column.table.name}.{column.name} ({kind})")


def insert_generic_row(session: Session, cls: Any, row_id: str, owned: dict[str, str]) -> None:
    values: dict[str, Any] = {}
    for column in cls.__table__.columns:
        if column.primary_key:
            values[column.key] = (
                row_id
                if column.name == "id" or len(cls.__table__.primary_key.columns) == 1
                else _value_for(column, owned)
            )
        elif not column.nullable and column.default is None and column.server_default is None:
            values[column.key] = _value_for(column, owned)
        elif column.foreign_keys or column.name in owned:
            values[column.key] = _value_for(column, owned)
    session.add(cls(**values))
    session.flush()


def _body_from_schema(
    schema: dict[str, Any], components: dict[str, Any], owned: dict[str, str], name: str = ""
) -> Any:
    if "$ref" in schema:
        return _body_from_schema(
            components[schema["$ref"].rsplit("/", 1)[1]], components, owned, name
        )
    if name in owned:
        return owned[name]
    if name in FIELD_HINTS:
        return FIELD_HINTS[name]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if s.get("type") != "null"]
            return _body_from_schema(options[0], components, owned, name)
    if "allOf" in schema:
        return _body_from_schema(schema["allOf"][0], components, owned, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type", "object")
    if kind == "object":
        required = schema.get("required", [])
        return {
            prop: _body_from_schema(sub, components, owned, prop)
            for prop, sub in schema.get("properties", {}).items()
            if prop in required
        }
    if kind == "array":
        item = _body_from_schema(schema.get("items", {}), components, owned, name)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat()
    if schema.get("format") == "uri" or name.endswith("url"):
        return "https://example.com/feed"
    return "x" * max(1, schema.get("minLength", 1))


def request_body(document: dict[str, Any], path: str, method: str, owned: dict[str, str]) -> Any:
    operation = document["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    components = document.get("components", {}).get("schemas", {})
    return _body_from_schema(content["application/json"]["schema"], components, owned)


@pytest.fixture
def agency_a_resources(client, agency_a, api_settings, receiver_url) -> dict[str, str]:
    """One of each of agency A's resources, keyed by the path parameter that names it."""
    brand = client.post("/v1/brands", headers=agency_a, json={"name": "A brand"}).json()
    account = client.post(
        "/v1/accounts",
        headers=agency_a,
        json={"brand_id": brand["id"], "network": "sandbox", "handle": "a-account"},
    ).json()
    key = client.post("/v1/keys", headers=agency_a, json={"name": "A key", "role": "viewer"}).json()
    hook = client.post(
        "/v1/webhooks", headers=agency_a, json={"url": receiver_url, "events": ["posts.published"]}
    )
    assert hook.status_code == 201, hook.text
    agency_id = agency_of(api_settings, agency_a)
    engine = make_engine(api_settings.database_url)
    with make_session_factory(engine)() as session:
        [row] = delivery.enqueue(published(agency_id), session)
        session.commit()
        delivery_id = row.id
    engine.dispose()
    return {
        "agency_id": agency_id,
        "brand_id": brand["id"],
        "account_id": account["id"],
        "key_id": key["id"],
        "webhook_id": hook.json()["id"],
        "delivery_id": delivery_id,
    }


@pytest.fixture
def client(api_settings) -> Iterator[TestClient]:
    """The app with 127.0.0.1 allow-listed for webhooks, and no rate limit."""
    settings = api_settings.model_copy(
        update={"webhook_allow_hosts": "127.0.0.1", "rate_limit_per_minute": 0}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def receiver_url() -> str:
    return "http://127.0.0.1:9/hooks"  # the discard port: nothing listens


def _fill(path: str, params: list[str], owned: dict[str, str], api_settings) -> str:
    """Agency A's resource for every path parameter, made on demand for other services' ids."""
    missing = [p for p in params if p not in owned and p not in FIXED_VALUES]
    for param in missing:
        name = param.removesuffix("_id")
        models = _tables_for(name) if param.endswith("_id") else []
        if not models:
            raise LookupError(
                f"{path}: no agency-A resource for the path parameter {{{param}}}; "
                "add it to EXCLUDED with a reason, or name its table after it"
            )
        row_id = new_id()
        engine = make_engine(api_settings.database_url)
        with make_session_factory(engine)() as session:
            for model in models:
                insert_generic_row(session, model, row_id, owned)
            session.commit()
        engine.dispose()
        owned[param] = row_id
    return re.sub(r"{(\w+)}", lambda m: owned.get(m.group(1)) or FIXED_VALUES[m.group(1)], path)


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (METHOD, path) of the OpenAPI document (FastAPI keeps included routers nested, so
    the document is the one flat list of what the app serves)."""
    return [
        (method.upper(), path)
        for path, ops in document["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_every_route_with_a_path_parameter_is_a_404_for_another_agency(
    client,
    agency_a,
    agency_b,
    api_settings,
    agency_a_resources,
):
    document = client.get("/openapi.json").json()
    owned = dict(agency_a_resources)
    checked, unfillable = [], []
    with_params = [(m, p) for m, p in operations(document) if "{" in p]
    assert len(with_params) >= 10
    for method, path in with_params:
        if (method, path) in EXCLUDED:
            continue
        try:
            url = _fill(path, re.findall(r"{(\w+)}", path), owned, api_settings)
        except LookupError as error:
            unfillable.append(str(error))
            continue
        body = request_body(document, path, method, owned)
        answer = client.request(method, url, headers=agency_b, json=body)
        checked.append((method, path))
        assert answer.status_code == 404, (
            f"{method} {path} with agency B's key on agency A's resource answered "
            f"{answer.status_code}: {answer.text[:300]}"
        )
        assert answer.headers["content-type"] == "application/problem+json"
        if method == "GET":  # control: the resource is there, for its own agency
            own = client.get(url, headers=agency_a)
            assert own.status_code != 404, f"GET {path}: agency A's own resource is a 404 too"
    assert not unfillable, "\n".join(unfillable)
    print(f"\ntenant isolation: {len(checked)} (method, route) pairs answered 404 to agency B")
    assert client.get(f"/v1/brands/{owned['brand_id']}", headers=agency_a).status_code == 200


def test_lists_never_show_another_agencys_rows(client, agency_a, agency_b, agency_a_resources):
    document = client.get("/openapi.json").json()
    lists = [
        p
        for m, p in operations(document)
        if m == "GET" and p.startswith("/v1/") and "{" not in p and p != "/v1/status"
    ]
    assert len(lists) >= 5
    for path in lists:
        answer = client.get(path, headers=agency_b)
        if answer.status_code == 422:  # a list that needs a filter: give it A's brand
            answer = client.get(
                path, headers=agency_b, params={"brand_id": agency_a_resources["brand_id"]}
            )
        for name, resource_id in agency_a_resources.items():
            assert resource_id not in answer.text, f"GET {path} shows agency A's {name}"
