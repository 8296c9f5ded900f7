"""Request and response bodies of the webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.api.schemas import Strict

EventName = Literal[
    "posts.published",
    "posts.failed",
    "review.requested",
    "alerts.crisis",
    "brand.paused",
    "brand.resumed",
]
SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "url": "https://crm.example.com/hooks/tamtam",
    "events": ["posts.published", "posts.failed"],
    "description": "CRM: log what goes out",
}
READ_EXAMPLE: dict[str, Any] = {
    "id": "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
    **SUBSCRIPTION_EXAMPLE,
    "active": True,
    "disabled_reason": "",
    "created_at": "2026-03-02T09:40:00Z",
    "updated_at": "2026-03-02T09:40:00Z",
}


class WebhookCreate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [SUBSCRIPTION_EXAMPLE]})
    url: str = Field(
        min_length=1,
        max_length=2000,
        description=(
            "Where events are POSTed. Public http(s) addresses only, unless the operator "
            "allow-lists a private one with TAMTAM_WEBHOOK_ALLOW_HOSTS."
        ),
    )
    events: list[EventName] = Field(min_length=1, max_length=6)
    description: str = Field(default="", max_length=500)


class WebhookUpdate(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"events": ["posts.published"], "active": True}]}
    )
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=6)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = Field(
        default=None, description="false pauses deliveries; true resumes them."
    )


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [READ_EXAMPLE]})
    id: str
    url: str
    events: list[str]
    description: str
    active: bool
    disabled_reason: str = Field(
        description="Why Tamtam disabled it (e.g. the receiver answered 410)."
    )
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**READ_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]
        }
    )
    secret: str = Field(
        description=(
            "The signing secret (Standard Webhooks, `whsec_` + base64). Shown once: store it now."
        )
    )


class WebhookPage(BaseModel):
    items: list[WebhookRead]
    next_cursor: str | None = None


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    number: int
    status_code: int | None
    error: str
    duration_ms: int
    created_at: datetime


DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": "3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d",
    "subscription_id": READ_EXAMPLE["id"],
    "event_id": "0b8f6c1e-2d4a-4c3b-9e7f-1a2b3c4d5e6f",
    "event_type": "posts.published",
    "status": "pending",
    "attempts": 2,
    "next_attempt_at": "2026-03-02T10:01:00Z",
    "last_status_code": 500,
    "last_error": "upstream down",
    "delivered_at": None,
    "created_at": "2026-03-02T10:00:00Z",
}


class DeliveryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [DELIVERY_EXAMPLE]}
    )
    id: str = Field(description="Also the `webhook-id` header of every attempt.")
    subscription_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


class DeliveryDetail(DeliveryRead):
    body: str = Field(description="The exact JSON text that is signed and sent.")
    log: list[AttemptRead] = Field(description="Every attempt, oldest first.")


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None
