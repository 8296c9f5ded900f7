"""Every event Tamtam's services exchange, and the envelope around them.

The envelope is CloudEvents 1.0 (`id`, `source`, `type`, `specversion`, `time`, `subject`,
`datacontenttype`) plus two extension attributes: `tenant` (the agency id) and
`dataversion` (the payload's schema version). Payloads are versioned pydantic models with
no behaviour beyond naming their partition key. Producers and consumers import from here
and nowhere else.

Topic name = the event type (`tamtam.<domain>.<event>`), with an optional prefix from the
settings. Keys are the brand id, or the account id where order per account matters.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, model_validator

SPECVERSION = "1.0"


class Payload(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ClassVar[str]
    version: ClassVar[int] = 1

    brand_id: str

    def partition_key(self) -> str:
        return self.brand_id


PAYLOADS: dict[str, type[Payload]] = {}


def event_type(name: str, version: int = 1):  # type: ignore[no-untyped-def]
    """Register a payload class under its event type name."""

    def register(cls: type[Payload]) -> type[Payload]:
        if name in PAYLOADS:
            raise ValueError(f"event type {name} is defined twice")
        cls.type = name
        cls.version = version
        PAYLOADS[name] = cls
        return cls

    return register


# --- shared value objects -------------------------------------------------------------


class Hashtag(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tag: str = Field(description="Without the leading #.")
    score: float
    why: str


class RiskReason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(description="e.g. competitor_attack, sensitive_topic, profanity, banned_term")
    message: str
    start: int | None = Field(default=None, description="Character offset of the span in the text.")
    end: int | None = None
    weight: float = 0.0


class MediaRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    mime_type: str = "image/jpeg"
    alt_text: str = ""
    size_bytes: int | None = None


# --- generation -----------------------------------------------------------------------


@event_type("tamtam.generation.requested")
class GenerationRequested(Payload):
    brief_id: str
    goal: str = ""
    topic: str
    key_message: str = ""
    links: list[str] = []
    networks: list[str]
    language: str = "fr"
    tone: str = ""
    variants: int = 2
    call_to_action: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None


@event_type("tamtam.drafts.created")
class DraftCreated(Payload):
    draft_id: str
    kind: Literal["post", "reply"] = "post"
    brief_id: str | None = None
    mention_id: str | None = None
    account_id: str | None = None
    network: str
    variant: int = 0
    language: str
    text: str
    description: str = ""
    hashtags: list[Hashtag] = []
    media: list[MediaRef] = []
    risk_score: float = 0.0
    risk_reasons: list[RiskReason] = []
    needs_person: bool = False
    provider: str = ""
    model: str = ""
    mention_text: str = Field(default="", description="For a reply: the mention it answers.")
    mention_author: str = ""
    mention_external_id: str | None = Field(
        default=None, description="For a reply: the mention's id on the network.")
    mention_sentiment: Literal["negative", "neutral", "positive"] | None = None


# --- review ---------------------------------------------------------------------------


@event_type("tamtam.review.requested")
class ReviewRequested(Payload):
    post_id: str
    step: int = 0
    step_name: str = ""
    needs_person: bool = False


@event_type("tamtam.review.decided")
class ReviewDecided(Payload):
    post_id: str
    decision: Literal["approve", "request_changes", "reject", "cancel", "submit"]
    actor: str
    role: str = ""
    text: str | None = None
    comment: str = ""
    publish_at: datetime | None = None
    best_time: bool = False
    account_id: str | None = None


@event_type("tamtam.posts.transitioned")
class PostTransitioned(Payload):
    post_id: str
    from_state: str
    to_state: str
    actor: str
    reason: str = ""


@event_type("tamtam.posts.approved")
class PostApproved(Payload):
    post_id: str
    account_id: str
    network: str
    text: str
    media: list[MediaRef] = []
    thread: list[str] = Field(default=[], description="Further parts, each replying to the previous.")
    first_comment: str = ""
    reply_to_external_id: str | None = None
    publish_at: datetime | None = None
    best_time: bool = False
    queue: bool = False


@event_type("tamtam.brand.paused")
class BrandPaused(Payload):
    actor: str
    reason: str = ""
    alert_id: str | None = None


@event_type("tamtam.brand.resumed")
class BrandResumed(Payload):
    actor: str
    held_posts: Literal["release", "reschedule", "cancel"] = "release"
    reschedule_to: datetime | None = None


# --- publish --------------------------------------------------------------------------


@event_type("tamtam.posts.scheduled")
class PostScheduled(Payload):
    post_id: str
    account_id: str
    publish_at: datetime


@event_type("tamtam.posts.due")
class PostDue(Payload):
    """Internal to publish: a due post, keyed by account so one account publishes in order."""

    post_id: str
    account_id: str
    due_at: datetime

    def partition_key(self) -> str:
        return self.account_id


@event_type("tamtam.posts.published")
class PostPublished(Payload):
    post_id: str
    account_id: str
    network: str
    external_id: str
    url: str = ""
    published_at: datetime


@event_type("tamtam.posts.failed")
class PostFailed(Payload):
    post_id: str
    account_id: str
    network: str
    reason: str
    retryable: bool = False


@event_type("tamtam.accounts.disconnected")
class AccountDisconnected(Payload):
    account_id: str
    reason: str


# --- ingest ---------------------------------------------------------------------------


@event_type("tamtam.mentions.received")
class MentionReceived(Payload):
    mention_id: str
    account_id: str | None = None
    network: str
    external_id: str
    author: str
    text: str
    language: str = "und"
    sentiment: float = 0.0
    sentiment_label: Literal["negative", "neutral", "positive"] = "neutral"
    url: str = ""
    created_at: datetime
    in_reply_to_external_id: str | None = None
    post_id: str | None = None


@event_type("tamtam.metrics.observed")
class MetricsObserved(Payload):
    account_id: str
    network: str
    post_id: str | None = None
    external_id: str
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    impressions: int | None = None
    observed_at: datetime
    published_at: datetime | None = None
    content_type: str = "text"
    hashtags: list[str] = []


@event_type("tamtam.trends.detected")
class TrendDetected(Payload):
    term: str
    score: float
    momentum: float
    samples: list[str] = []
    sources: list[str] = []
    window_minutes: int = 60


@event_type("tamtam.alerts.crisis")
class CrisisAlerted(Payload):
    alert_id: str
    severity: float
    reason: str
    negative_share: float = 0.0
    volume: int = 0
    baseline: float = 0.0
    samples: list[str] = []
    curve: list[dict[str, Any]] = []


# --- the envelope ---------------------------------------------------------------------


class Event(BaseModel):
    """A CloudEvents 1.0 envelope around one payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    specversion: Literal["1.0"] = SPECVERSION
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    tenant: str
    dataversion: int = 1
    data: SerializeAsAny[Payload]

    @model_validator(mode="before")
    @classmethod
    def _payload_by_type(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("data"), dict):
            payload_cls = PAYLOADS.get(values.get("type", ""))
            if payload_cls is None:
                raise ValueError(f"unknown event type {values.get('type')!r}")
            values = {**values, "data": payload_cls.model_validate(values["data"])}
        return values

    @property
    def key(self) -> str:
        return self.data.partition_key()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class UndecodableEvent(ValueError):
    """A message that is not a valid Tamtam event (it goes to the dead-letter topic)."""


def new_event(payload: Payload, *, tenant: str, source: str, subject: str | None = None) -> Event:
    return Event(
        source=f"tamtam/{source}",
        type=payload.type,
        dataversion=payload.version,
        tenant=tenant,
        subject=subject,
        data=payload,
    )


def decode(raw: bytes) -> Event:
    try:
        return Event.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as error:
        raise UndecodableEvent(str(error)[:2000]) from error


def topic_for(event_type_name: str, prefix: str = "") -> str:
    return f"{prefix}{event_type_name}"


def dead_letter_topic(group: str, prefix: str = "") -> str:
    return f"{prefix}tamtam.dlq.{group}"


def all_topics(prefix: str = "") -> list[str]:
    return [topic_for(name, prefix) for name in PAYLOADS]
