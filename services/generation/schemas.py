"""Request and response bodies of the generation routes (briefs, guardrail checks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events import Hashtag, RiskReason


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BriefWindow(Strict):
    start: datetime | None = Field(default=None, description="Earliest publication time.")
    end: datetime | None = Field(default=None, description="Latest publication time.")

    @model_validator(mode="after")
    def _order(self) -> BriefWindow:
        for stamp in (self.start, self.end):
            if stamp is not None and stamp.tzinfo is None:
                raise ValueError("give times with a time zone, e.g. 2026-05-02T09:00:00+02:00")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("the window's end must come after its start")
        return self


BRIEF_EXAMPLE: dict[str, Any] = {
    "brand_id": "9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b",
    "goal": "launch",
    "topic": "pain au levain",
    "key_message": "Notre pain au levain sort du four chaque matin à 7h",
    "links": ["https://example.com/pain"],
    "networks": ["mastodon", "x"],
    "language": "fr",
    "tone": "chaleureux",
    "variants": 2,
    "call_to_action": "Passez le goûter",
}


class BriefCreate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [BRIEF_EXAMPLE]})

    brand_id: str
    goal: str = Field(
        default="", max_length=500, description="What the post is for (launch, event...)."
    )
    topic: str = Field(min_length=1, max_length=500)
    key_message: str = Field(default="", max_length=2000)
    links: list[str] = Field(default=[], max_length=5)
    networks: list[str] = Field(min_length=1, max_length=12, description="Networks to write for.")
    language: Literal["fr", "en"] = "fr"
    tone: str = Field(default="", max_length=200)
    variants: int = Field(default=2, ge=1, le=5)
    call_to_action: str = Field(default="", max_length=500)
    window: BriefWindow | None = None

    @field_validator("links")
    @classmethod
    def _links(cls, links: list[str]) -> list[str]:
        for link in links:
            if not link.startswith(("https://", "http://")) or " " in link or len(link) > 2000:
                raise ValueError(f"{link!r} is not an http(s) link")
        return links

    @field_validator("networks")
    @classmethod
    def _unique(cls, networks: list[str]) -> list[str]:
        return list(dict.fromkeys(n.strip().lower() for n in networks))


class BriefAccepted(BaseModel):
    id: str
    status: str


class DraftRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    network: str
    variant: int
    language: str
    text: str
    description: str
    hashtags: list[Hashtag]
    risk_score: float
    risk_reasons: list[RiskReason]
    needs_person: bool
    provider: str
    model: str


class DroppedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    network: str
    variant: int
    text: str
    reasons: list[str]


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    provider: str
    model: str
    prompt: str
    outcome: str
    error: str
    input_tokens: int
    output_tokens: int
    cost: float
    cost_known: bool
    created_at: datetime


class BriefRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    brand_id: str
    status: Literal["pending", "ready", "failed"]
    failure_reason: str
    goal: str
    topic: str
    key_message: str
    links: list[str]
    networks: list[str]
    language: str
    tone: str
    variants: int
    call_to_action: str
    window_start: datetime | None
    window_end: datetime | None
    created_at: datetime
    drafts: list[DraftRead] = []
    dropped: list[DroppedRead] = []
    runs: list[RunRead] = []


class GuardrailCheck(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "brand_id": "9f1c2b7e4d5a4e0f8a6b3c2d1e0f9a8b",
                    "text": "Contrairement à nos concurrents, notre pain est garanti sans défaut.",
                    "language": "fr",
                    "context": "post",
                }
            ]
        }
    )

    brand_id: str
    text: str = Field(min_length=1, max_length=10000)
    language: Literal["fr", "en"] | None = Field(default=None, description="Detected when absent.")
    context: Literal["post", "reply"] = "post"


class GuardrailResult(BaseModel):
    score: float
    verdict: Literal["ok", "needs_person"]
    threshold: float
    language: str
    reasons: list[RiskReason]
