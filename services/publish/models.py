"""The publish service's tables. Every row carries `agency_id`; reads go through `tenant_select`
(the due-post scan and the event handlers, which act for the event's tenant, read by key).

- publish_posts: one row per approved post (its id is the post id, i.e. the draft id): the
  content, when it goes out (UTC), its state, and what the network answered;
- publish_attempts: one row per call to a network, committed before the call, with the
  idempotency key the network receives (stable across retries of the same content);
- publish_paused_brands: brands in crisis mode (from brand.paused / brand.resumed);
- publish_engagement: the latest engagement of each published post (from metrics.observed),
  binned by hour of week in the brand's local time, for the best time to post.

Post states: scheduled -> due (claimed by the scheduler, PostDue sent) -> publishing (an
attempt is in flight) -> published | failed | held (brand paused) | cancelled; a retry puts a
post back to scheduled with a later `publish_at`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TenantOwned, new_id, utcnow

SCHEDULED = "scheduled"
DUE = "due"
PUBLISHING = "publishing"
PUBLISHED = "published"
FAILED = "failed"
HELD = "held"
CANCELLED = "cancelled"

# attempt states
IN_FLIGHT = "in_flight"
SUCCEEDED = "succeeded"
RETRY_LATER = "retry_later"
REJECTED = "rejected"
AUTH_EXPIRED = "auth_expired"
INTERRUPTED = "interrupted"  # a crash mid-call, resolved by a lookup or the network's idempotency
UNKNOWN = "unknown"  # a crash mid-call on a network that can neither look up nor deduplicate
NOT_SENT = "not_sent"  # committed, then the brand was found paused: the network was not called


class ScheduledPost(TenantOwned, Base):
    __tablename__ = "publish_posts"
    __table_args__ = (
        # The scheduler's scan: status = 'scheduled' AND publish_at <= now, by publish_at.
        Index("ix_publish_posts_due", "status", "publish_at"),
        Index("ix_publish_posts_account_time", "account_id", "publish_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the post id (= draft id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[str] = mapped_column(String(32))
    network: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    thread: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_comment: Mapped[str] = mapped_column(Text, default="")
    reply_to_external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    mode: Mapped[str] = mapped_column(String(12))  # fixed, best_time, queue
    requested_at: Mapped[datetime | None] = mapped_column(default=None)  # as the person asked
    publish_at: Mapped[datetime] = mapped_column()  # UTC, after spacing and caps
    schedule_note: Mapped[str] = mapped_column(Text, default="")  # why publish_at moved
    status: Mapped[str] = mapped_column(String(12), default=SCHEDULED)
    generation: Mapped[int] = mapped_column(Integer, default=1)  # +1 on each re-approval
    retries: Mapped[int] = mapped_column(Integer, default=0)  # within this generation
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    url: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    first_comment_state: Mapped[str] = mapped_column(String(12), default="none")
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def idempotency_key(self) -> str:
        """The same for every retry of this content, so the network can drop a repeat."""
        return f"tamtam-{self.id}-g{self.generation}"


class PublishAttempt(TenantOwned, Base):
    __tablename__ = "publish_attempts"
    __table_args__ = (UniqueConstraint("post_id", "generation", "number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    post_id: Mapped[str] = mapped_column(String(32), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the generation
    idempotency_key: Mapped[str] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(16), default=IN_FLIGHT)
    note: Mapped[str] = mapped_column(Text, default="")  # the error, or how a crash was resolved
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class PausedBrand(TenantOwned, Base):
    __tablename__ = "publish_paused_brands"

    brand_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    paused_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementObservation(TenantOwned, Base):
    __tablename__ = "publish_engagement"
    __table_args__ = (UniqueConstraint("account_id", "external_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    network: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column()
    hour_of_week: Mapped[int] = mapped_column(Integer)  # 0 = Monday 00:00 local .. 167
    engagement: Mapped[int] = mapped_column(Integer, default=0)
    impressions: Mapped[int | None] = mapped_column(Integer, default=None)
    rate: Mapped[float] = mapped_column(Float, default=0.0)
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)
