"""Tables of the generation service: briefs, drafts, dropped variants, generation runs, and
what it learns from events to rank hashtags (trends, past engagement)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TenantOwned, new_id, utcnow


class Brief(TenantOwned, Base):
    """What a community manager asked for; drafts come from it (pending -> ready|failed)."""

    __tablename__ = "generation_briefs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    goal: Mapped[str] = mapped_column(Text, default="")
    topic: Mapped[str] = mapped_column(Text)
    key_message: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    networks: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(8), default="fr")
    tone: Mapped[str] = mapped_column(Text, default="")
    variants: Mapped[int] = mapped_column(Integer, default=2)
    call_to_action: Mapped[str] = mapped_column(Text, default="")
    window_start: Mapped[datetime | None] = mapped_column(default=None)
    window_end: Mapped[datetime | None] = mapped_column(default=None)
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Draft(TenantOwned, Base):
    """One variant for one network (a post from a brief, or a reply to a mention)."""

    __tablename__ = "generation_drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="post")
    brief_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    mention_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    account_id: Mapped[str | None] = mapped_column(String(32), default=None)
    network: Mapped[str] = mapped_column(String(40))
    variant: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    hashtags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    risk_score: Mapped[float] = mapped_column(Float, default=0.0)
    risk_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    needs_person: Mapped[bool] = mapped_column(Boolean, default=False)
    provider: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DroppedVariant(TenantOwned, Base):
    """A variant that could not be made to fit a network, and why."""

    __tablename__ = "generation_dropped_variants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brief_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    mention_id: Mapped[str | None] = mapped_column(String(64), default=None)
    network: Mapped[str] = mapped_column(String(40))
    variant: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GenerationRun(TenantOwned, Base):
    """One call to one provider (failed ones included): tokens, cost, outcome."""

    __tablename__ = "generation_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    brief_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    mention_id: Mapped[str | None] = mapped_column(String(64), default=None)
    task: Mapped[str] = mapped_column(String(10))
    prompt: Mapped[str] = mapped_column(String(60), default="")
    provider: Mapped[str] = mapped_column(String(60))
    model: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(20))  # ok, retry_later, bad_output, error
    error: Mapped[str] = mapped_column(Text, default="")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    cost_known: Mapped[bool] = mapped_column(Boolean, default=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrendSeen(TenantOwned, Base):
    """The latest `trends.detected` of a term for a brand (hashtag momentum)."""

    __tablename__ = "generation_trends"
    __table_args__ = (UniqueConstraint("brand_id", "term"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    term: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    momentum: Mapped[float] = mapped_column(Float, default=0.0)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostEngagement(TenantOwned, Base):
    """The latest `metrics.observed` of a published post, with its hashtags (past engagement)."""

    __tablename__ = "generation_post_engagement"
    __table_args__ = (UniqueConstraint("brand_id", "network", "external_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    network: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200))
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    engagement: Mapped[int] = mapped_column(Integer, default=0)
    impressions: Mapped[int | None] = mapped_column(Integer, default=None)
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)
