"""The ingest service's tables. Every row carries `agency_id`; reads go through `tenant_select`.

- ingest_mentions: normalised mentions, once per (network, external_id) whether they came
  by polling or by a webhook;
- ingest_tracked_posts: our published posts whose metrics we follow (from posts.approved
  for the content, posts.published for the external id), with their latest metrics;
- ingest_poll_cursors: where polling of one account (mentions or metrics) resumes, when it
  is next due, and a lease so that two replicas never poll the same account at once;
- ingest_watch_terms: per-brand watch-lists (keywords, hashtags, competitors);
- ingest_term_stats: each term's sliding window and baseline (trend watch);
- ingest_trends: trends detected;
- ingest_crisis_states / ingest_crisis_alerts: each brand's crisis detector and its alerts;
- ingest_feeds: RSS/Atom feeds a brand follows as trend sources.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TenantOwned, new_id, utcnow


class Mention(TenantOwned, Base):
    __tablename__ = "ingest_mentions"
    __table_args__ = (UniqueConstraint("network", "external_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[str | None] = mapped_column(String(32), default=None)
    network: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="und")
    sentiment: Mapped[float] = mapped_column(Float, default=0.0)
    sentiment_label: Mapped[str] = mapped_column(String(10), default="neutral")
    in_reply_to: Mapped[str | None] = mapped_column(String(200), default=None)
    post_id: Mapped[str | None] = mapped_column(String(32), default=None)
    source: Mapped[str] = mapped_column(String(20), default="poll")  # poll or webhook
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrackedPost(TenantOwned, Base):
    __tablename__ = "ingest_tracked_posts"
    __table_args__ = (UniqueConstraint("post_id"), UniqueConstraint("network", "external_id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    network: Mapped[str] = mapped_column(String(40))
    post_id: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    url: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(10), default="text")
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    reposts: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    quotes: Mapped[int] = mapped_column(Integer, default=0)
    impressions: Mapped[int | None] = mapped_column(Integer, default=None)
    metrics_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PollCursor(TenantOwned, Base):
    __tablename__ = "ingest_poll_cursors"

    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # mentions, metrics
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    next_poll_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_polled_at: Mapped[datetime | None] = mapped_column(default=None)


class WatchTerm(TenantOwned, Base):
    __tablename__ = "ingest_watch_terms"
    __table_args__ = (UniqueConstraint("brand_id", "kind", "term"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # keyword, hashtag, competitor
    term: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TermStat(TenantOwned, Base):
    """One term's sliding window (counts per slot) and its baseline (EWMA mean, variance)."""

    __tablename__ = "ingest_term_stats"
    __table_args__ = (UniqueConstraint("brand_id", "term"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32))
    term: Mapped[str] = mapped_column(String(200))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    slot: Mapped[int] = mapped_column(Integer, default=0, index=True)
    mean: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": version}


class TrendBrand(TenantOwned, Base):
    """When the brand's trend watch started (no alert during the warm-up)."""

    __tablename__ = "ingest_trend_brands"

    brand_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_slot: Mapped[int] = mapped_column(Integer)


class Trend(TenantOwned, Base):
    __tablename__ = "ingest_trends"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    term: Mapped[str] = mapped_column(String(200))
    watched: Mapped[bool] = mapped_column(default=False)
    score: Mapped[float] = mapped_column(Float)
    momentum: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    samples: Mapped[list[str]] = mapped_column(JSON, default=list)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    window_minutes: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CrisisState(TenantOwned, Base):
    __tablename__ = "ingest_crisis_states"

    brand_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alert_id: Mapped[str | None] = mapped_column(String(32), default=None)
    version: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": version}


class CrisisAlert(TenantOwned, Base):
    __tablename__ = "ingest_crisis_alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[float] = mapped_column(Float)
    peak_severity: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="raised")  # raised, cleared
    raised_at: Mapped[datetime] = mapped_column()
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Feed(TenantOwned, Base):
    __tablename__ = "ingest_feeds"
    __table_args__ = (UniqueConstraint("brand_id", "url"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    brand_id: Mapped[str] = mapped_column(String(32), index=True)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(300), default="")
    etag: Mapped[str] = mapped_column(String(300), default="")
    last_modified: Mapped[str] = mapped_column(String(100), default="")
    seen: Mapped[list[str]] = mapped_column(JSON, default=list)  # ids of recent items
    next_poll_at: Mapped[datetime] = mapped_column(default=utcnow)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
