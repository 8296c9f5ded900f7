"""Request and response bodies of the agency REST API (named after the dispatch convention:
`BrandCreate`, `BrandUpdate`, `BrandRead`, `BrandPage`). Unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

LANGUAGES = ("fr", "en", "es", "de", "it", "pt", "nl")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Europe/Paris)"
        ) from None
    return value


def _check_languages(values: list[str]) -> list[str]:
    unknown = [v for v in values if v not in LANGUAGES]
    if unknown:
        raise ValueError(f"unsupported languages {unknown}; supported: {', '.join(LANGUAGES)}")
    return values


BRAND_EXAMPLE: dict[str, Any] = {
    "name": "Boulangerie Dupont",
    "timezone": "Europe/Paris",
    "languages": ["fr", "en"],
    "voice": {
        "tone": ["chaleureux", "complice"],
        "banned_terms": ["pas cher"],
        "emoji": "sparingly",
    },
    "ai": {"provider": "local"},
}
STAMPS = {"created_at": "2026-03-02T09:30:00Z", "updated_at": "2026-03-02T09:30:00Z"}


class BrandCreate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [BRAND_EXAMPLE]})

    name: str = Field(min_length=1, max_length=200, examples=["Boulangerie Dupont"])
    timezone: str = Field(default="Europe/Paris", examples=["Europe/Paris"])
    languages: list[str] = Field(default=["fr", "en"], min_length=1)
    voice: dict[str, Any] = Field(
        default_factory=dict,
        description="Tone words, do's and don'ts, banned terms, emoji policy, sample posts.",
    )
    ai: dict[str, Any] = Field(
        default_factory=dict, description="AI provider, model, timeout and fallback chain."
    )

    _tz = field_validator("timezone")(_check_timezone)
    _langs = field_validator("languages")(_check_languages)


class BrandUpdate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"timezone": "America/Montreal"}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    languages: list[str] | None = Field(default=None, min_length=1)
    voice: dict[str, Any] | None = None
    ai: dict[str, Any] | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @field_validator("languages")
    @classmethod
    def _langs(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_languages(value)


class BrandRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [{"id": "9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b", **BRAND_EXAMPLE, **STAMPS}]
        },
    )
    id: str
    name: str
    timezone: str
    languages: list[str]
    voice: dict[str, Any]
    ai: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class BrandPage(BaseModel):
    items: list[BrandRead]
    next_cursor: str | None = None


class AccountCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "brand_id": "9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b",
                    "network": "sandbox",
                    "handle": "dupont",
                    "display_name": "Boulangerie Dupont",
                },
                {
                    "brand_id": "9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b",
                    "network": "mastodon",
                    "handle": "@dupont",
                    "settings": {"instance_url": "https://mastodon.social"},
                    "credentials": {"access_token": "…"},
                },
            ]
        }
    )

    brand_id: str
    network: str = Field(examples=["sandbox", "mastodon", "bluesky"])
    handle: str = Field(min_length=1, max_length=200, examples=["@dupont"])
    display_name: str = ""
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Non-secret settings, e.g. the Mastodon instance URL."
    )
    credentials: dict[str, SecretStr] = Field(
        default_factory=dict, description="Tokens or passwords; encrypted at rest, never returned."
    )


class AccountUpdate(Strict):
    handle: str | None = Field(default=None, min_length=1, max_length=200)
    display_name: str | None = None
    settings: dict[str, Any] | None = None
    credentials: dict[str, SecretStr] | None = None


class AccountRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "4b2a9c8d7e6f4a3b2c1d0e9f8a7b6c5d",
                    "brand_id": "9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b",
                    "network": "sandbox",
                    "handle": "dupont",
                    "display_name": "Boulangerie Dupont",
                    "status": "connected",
                    "status_reason": "",
                    "settings": {},
                    "has_credentials": False,
                    "created_at": "2026-03-02T09:31:00Z",
                }
            ]
        },
    )
    id: str
    brand_id: str
    network: str
    handle: str
    display_name: str
    status: str
    status_reason: str
    settings: dict[str, Any]
    has_credentials: bool
    created_at: datetime


class AccountPage(BaseModel):
    items: list[AccountRead]
    next_cursor: str | None = None


class ServiceStatus(BaseModel):
    service: str
    ready: bool
    checks: dict[str, str] = {}
    error: str | None = None


class StatusRead(BaseModel):
    ready: bool
    services: list[ServiceStatus]


# --- API keys -------------------------------------------------------------------------

Role = Literal["admin", "editor", "approver", "viewer"]
KEY_EXAMPLE: dict[str, Any] = {
    "id": "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
    "name": "CRM integration",
    "role": "editor",
    "prefix": "1a2b3c4d",
    "active": True,
    "created_at": "2026-03-02T09:32:00Z",
    "revoked_at": None,
}


class KeyCreate(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "CRM integration", "role": "editor"}]}
    )
    name: str = Field(min_length=1, max_length=200, description="What the key is for.")
    role: Role = Field(
        default="viewer",
        description=(
            "admin: everything, keys and webhooks included; editor: brands, accounts, briefs; "
            "approver: review decisions; viewer: read only."
        ),
    )


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [KEY_EXAMPLE]})
    id: str
    name: str
    role: str
    prefix: str = Field(description="The `tt_<prefix>_` part of the key, to recognise it.")
    active: bool
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**KEY_EXAMPLE, "key": "tt_1a2b3c4d_Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eA"}
            ]
        }
    )
    key: str = Field(
        description="The key itself. Shown once: store it now; Tamtam keeps only a hash."
    )


class KeyPage(BaseModel):
    items: list[KeyRead]
    next_cursor: str | None = None


# --- audit ----------------------------------------------------------------------------


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d",
                    "actor": "key:0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
                    "action": "updated",
                    "resource_type": "brand",
                    "resource_id": "9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b",
                    "before": {"timezone": "Europe/Paris"},
                    "after": {"timezone": "America/Montreal"},
                    "created_at": "2026-03-02T10:00:00Z",
                }
            ]
        },
    )
    id: str
    actor: str = Field(
        description="`key:<id>`, `user:<id>`, or `event:<type>` for changes events made."
    )
    action: str
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    created_at: datetime


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: str | None = None


# --- problem details (RFC 9457), for the OpenAPI document -------------------------------


class ProblemRead(BaseModel):
    """An error, as `application/problem+json` (RFC 9457)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://tamtam.dev/problems/not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "brand 9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b not found",
                    "instance": "/v1/brands/9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b",
                }
            ]
        },
    )
    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation errors: `pointer` (the field) and `detail`."
    )


def _problem_content() -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemRead"}}}


COMMON_ERRORS = {
    "401": "Missing, unknown or revoked API key.",
    "429": "Too many requests for this key; wait `Retry-After` seconds.",
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Any unique string (a UUID) of at most 255 characters. Sending the same POST again "
        "with the same key returns the first response instead of doing it twice (for 24 "
        "hours); the same key with another body is a 422; a request still running with "
        "that key is a 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def document_conventions(app: FastAPI) -> None:
    """Make the OpenAPI document say what the API does on every route: errors are problem
    documents (not FastAPI's default 422 shape), API routes may answer 401 and 429, and
    every POST takes an `Idempotency-Key` header."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = build()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components["ProblemRead"] = ProblemRead.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                _document_operation(path, method, operation)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = _problem_content()
            if status == "422":
                response["description"] = "Invalid request (the `errors` member names each field)."
    if not path.startswith("/v1/"):
        return
    errors = dict(COMMON_ERRORS)
    if method != "get":
        errors["403"] = "The key's role cannot do this."
    if "{" in path:
        errors["404"] = "No such resource in your agency (another agency's is a 404 too)."
    for status, description in errors.items():
        responses.setdefault(status, {"description": description, "content": _problem_content()})
    if method == "post":
        names = {p.get("name", "").lower() for p in operation.get("parameters", [])}
        if "idempotency-key" not in names:
            operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_HEADER))
