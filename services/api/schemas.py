"""Request and response bodies of the agency REST API (named after the dispatch convention:
`BrandCreate`, `BrandUpdate`, `BrandRead`, `BrandPage`). Unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

LANGUAGES = ("fr", "en", "es", "de", "it", "pt", "nl")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)") from None
    return value


def _check_languages(values: list[str]) -> list[str]:
    unknown = [v for v in values if v not in LANGUAGES]
    if unknown:
        raise ValueError(f"unsupported languages {unknown}; supported: {', '.join(LANGUAGES)}")
    return values


class BrandCreate(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Boulangerie Dupont"])
    timezone: str = Field(default="Europe/Paris", examples=["Europe/Paris"])
    languages: list[str] = Field(default=["fr", "en"], min_length=1)
    voice: dict[str, Any] = Field(default_factory=dict, description="Tone words, do's and don'ts, banned terms, emoji policy, sample posts.")
    ai: dict[str, Any] = Field(default_factory=dict, description="AI provider, model, timeout and fallback chain.")

    _tz = field_validator("timezone")(_check_timezone)
    _langs = field_validator("languages")(_check_languages)


class BrandUpdate(Strict):
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
    model_config = ConfigDict(from_attributes=True)
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
    brand_id: str
    network: str = Field(examples=["sandbox", "mastodon", "bluesky"])
    handle: str = Field(min_length=1, max_length=200, examples=["@dupont"])
    display_name: str = ""
    settings: dict[str, Any] = Field(default_factory=dict, description="Non-secret settings, e.g. the Mastodon instance URL.")
    credentials: dict[str, SecretStr] = Field(default_factory=dict, description="Tokens or passwords; encrypted at rest, never returned.")


class AccountUpdate(Strict):
    handle: str | None = Field(default=None, min_length=1, max_length=200)
    display_name: str | None = None
    settings: dict[str, Any] | None = None
    credentials: dict[str, SecretStr] | None = None


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
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
