"""Request and response bodies of the ingest routes. Unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WatchTermCreate(Strict):
    kind: Literal["keyword", "hashtag", "competitor"]
    term: str = Field(min_length=2, max_length=200, examples=["rappel produit", "#rentrée"])


class WatchTermRead(Read):
    id: str
    brand_id: str
    kind: str
    term: str
    created_at: datetime


class WatchTermPage(BaseModel):
    items: list[WatchTermRead]


class FeedCreate(Strict):
    url: str = Field(min_length=8, max_length=2000, examples=["https://example.org/feed.xml"])


class FeedRead(Read):
    id: str
    brand_id: str
    url: str
    title: str
    last_error: str
    next_poll_at: datetime
    created_at: datetime


class FeedPage(BaseModel):
    items: list[FeedRead]


class SignalItem(Strict):
    text: str = Field(min_length=1, max_length=5000)
    url: str = Field(default="", max_length=2000)
    observed_at: datetime | None = Field(default=None,
                                         description="When it was seen (now if absent).")


class SignalCreate(Strict):
    brand_id: str
    source: str = Field(min_length=1, max_length=100, examples=["google-trends", "newsletter"])
    items: list[SignalItem] = Field(min_length=1, max_length=500)


class SignalAccepted(BaseModel):
    accepted: int
    trends: list[str]


class MentionRead(Read):
    id: str
    brand_id: str
    account_id: str | None
    network: str
    external_id: str
    author: str
    text: str
    url: str
    language: str
    sentiment: float
    sentiment_label: str
    source: str
    post_id: str | None
    created_at: datetime


class MentionPage(BaseModel):
    items: list[MentionRead]
    next_cursor: str | None


class TrendRead(Read):
    id: str
    term: str
    watched: bool
    score: float
    momentum: float
    count: int
    baseline: float
    samples: list[str]
    sources: list[str]
    window_minutes: int
    created_at: datetime


class TrendPage(BaseModel):
    items: list[TrendRead]
    next_cursor: str | None


class CrisisAlertRead(Read):
    id: str
    brand_id: str
    severity: float
    peak_severity: float
    reason: str
    status: str
    evidence: dict
    raised_at: datetime
    cleared_at: datetime | None


class CrisisAlertPage(BaseModel):
    items: list[CrisisAlertRead]


class WebhookAccepted(BaseModel):
    received: int
    new: int
