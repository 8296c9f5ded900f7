"""Tables of the review service: posts under review and their life cycle, edits, comments,
approvals, the audit log, approval policies, crisis state and alerts, and the web users.

Every row is tenant-owned (`agency_id`). A post's id is the id of the draft it came from.
The `users` table lives here because the web pages (served by the api process) are the review
desk; `services.review.users` is the only writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TenantOwned, new_id, utcnow


class ReviewPost(TenantOwned, Base):
    """One post (or reply) from draft to published; `version` guards concurrent decisions."""

    __tablename__ = "review_posts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="post")
    network: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[str | None] = mapped_column(String(32), default=None)
    brief_id: Mapped[str | None] = mapped_column(String(32), default=None)
    variant: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(10), default="fr")
    text: Mapped[str] = mapped_column(Text)
    original_text: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    hashtags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    risk_score: Mapped[float] = mapped_column(Float, default=0.0)
    risk_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    needs_person: Mapped[bool] = mapped_column(Boolean, default=False)
    mention_id: Mapped[str | None] = mapped_column(String(64), default=None)
    mention_text: Mapped[str] = mapped_column(Text, default="")
    mention_author: Mapped[str] = mapped_column(String(200), default="")
    mention_external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    mention_sentiment: Mapped[str | None] = mapped_column(String(10), default=None)
    state: Mapped[str] = mapped_column(String(20), index=True)
    step: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    publish_at: Mapped[datetime | None] = mapped_column(default=None)
    best_time: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    external_url: Mapped[str] = mapped_column(Text, default="")
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostEdit(TenantOwned, Base):
    """One change of a post's text, with its unified diff."""

    __tablename__ = "review_edits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    post_id: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    diff: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostComment(TenantOwned, Base):
    __tablename__ = "review_comments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    post_id: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StepApproval(TenantOwned, Base):
    """Who approved which step of a post's approval policy (reset when changes are requested)."""

    __tablename__ = "review_approvals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    post_id: Mapped[str] = mapped_column(String(32), index=True)
    step: Mapped[int] = mapped_column(Integer)
    step_name: Mapped[str] = mapped_column(String(100), default="")
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewAuditEntry(TenantOwned, Base):
    """Who did what, when, from which state to which, and why."""

    __tablename__ = "review_audit"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    post_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20), default=None)
    to_state: Mapped[str | None] = mapped_column(String(20), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovalPolicy(TenantOwned, Base):
    """A brand's ordered approval steps, each with the roles that may act at it."""

    __tablename__ = "review_policies"
    __table_args__ = (UniqueConstraint("brand_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_approve_max_risk: Mapped[float] = mapped_column(Float, default=0.2)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BrandCrisis(TenantOwned, Base):
    """A brand's crisis state: paused or not, and the severity that pauses it."""

    __tablename__ = "review_brand_crisis"
    __table_args__ = (UniqueConstraint("brand_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    threshold: Mapped[float] = mapped_column(Float, default=0.6)
    reason: Mapped[str] = mapped_column(Text, default="")
    alert_id: Mapped[str | None] = mapped_column(String(64), default=None)
    paused_by: Mapped[str] = mapped_column(String(100), default="")
    paused_at: Mapped[datetime | None] = mapped_column(default=None)
    resumed_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)


class CrisisAlert(TenantOwned, Base):
    """An `alerts.crisis` event as review received it, with its evidence."""

    __tablename__ = "review_crisis_alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    negative_share: Mapped[float] = mapped_column(Float, default=0.0)
    volume: Mapped[int] = mapped_column(Integer, default=0)
    baseline: Mapped[float] = mapped_column(Float, default=0.0)
    samples: Mapped[list[str]] = mapped_column(JSON, default=list)
    curve: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    paused_brand: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(TenantOwned, Base):
    """A person who signs in to the web pages."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20), default="editor")
    language: Mapped[str] = mapped_column(String(5), default="fr")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
