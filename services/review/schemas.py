"""Request and response bodies of the review REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.review.policies import DECIDING_ROLES


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PostRead(Read):
    id: str
    brand_id: str
    kind: str
    network: str
    account_id: str | None
    brief_id: str | None
    language: str
    text: str
    original_text: str
    hashtags: list[dict[str, Any]]
    media: list[dict[str, Any]]
    risk_score: float
    risk_reasons: list[dict[str, Any]]
    needs_person: bool
    mention_id: str | None
    mention_text: str
    mention_author: str
    state: str
    step: int
    version: int
    publish_at: datetime | None
    best_time: bool
    scheduled_at: datetime | None
    published_at: datetime | None
    external_url: str
    failure_reason: str
    created_at: datetime
    updated_at: datetime


class PostPage(BaseModel):
    items: list[PostRead]
    next_cursor: str | None = None


class EditRead(Read):
    id: str
    actor: str
    before: str
    after: str
    diff: str
    created_at: datetime


class CommentRead(Read):
    id: str
    actor: str
    body: str
    created_at: datetime


class ApprovalRead(Read):
    step: int
    step_name: str
    actor: str
    role: str
    created_at: datetime


class AuditRead(Read):
    id: str
    brand_id: str
    post_id: str | None
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str
    created_at: datetime


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_cursor: str | None = None


class PostDetail(PostRead):
    history: list[EditRead] = []
    comments: list[CommentRead] = []
    approvals: list[ApprovalRead] = []
    audit: list[AuditRead] = []


class PostUpdate(Body):
    text: str = Field(min_length=1, max_length=100_000)
    version: int | None = Field(default=None,
                                description="The version you edited; 409 if it changed.")


class CommentCreate(Body):
    body: str = Field(min_length=1, max_length=10_000)


class DecisionCreate(Body):
    decision: Literal["approve", "request_changes", "reject"]
    text: str | None = Field(default=None, description="The edited text, if you changed it.")
    comment: str = ""
    publish_at: AwareDatetime | None = Field(default=None,
                                             description="When to publish; else best time.")
    best_time: bool = False
    account_id: str | None = None
    version: int | None = Field(default=None,
                                description="The version you decided on; 409 if it changed.")


class CancelCreate(Body):
    reason: str = ""
    version: int | None = None


class StepBody(Body):
    name: str = Field(min_length=1, max_length=100)
    roles: list[str] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = [role for role in roles if role not in DECIDING_ROLES]
        if unknown:
            raise ValueError(f"roles that may decide: {', '.join(DECIDING_ROLES)} (not {unknown})")
        return roles


class PolicyBody(Body):
    steps: list[StepBody] = Field(min_length=1, max_length=10)
    auto_approve: bool = False
    auto_approve_max_risk: float = Field(default=0.2, ge=0, le=1)
    crisis_threshold: float = Field(default=0.6, ge=0, le=1)


class PolicyRead(BaseModel):
    brand_id: str
    steps: list[dict[str, Any]]
    auto_approve: bool
    auto_approve_max_risk: float
    crisis_threshold: float


class PauseCreate(Body):
    reason: str = ""


class ResumeCreate(Body):
    held_posts: Literal["release", "reschedule", "cancel"] = "release"
    reschedule_to: AwareDatetime | None = None


class CrisisRead(BaseModel):
    brand_id: str
    paused: bool
    threshold: float
    reason: str = ""
    alert_id: str | None = None
    paused_by: str = ""
    paused_at: datetime | None = None


class AlertRead(Read):
    id: str
    brand_id: str
    severity: float
    reason: str
    negative_share: float
    volume: int
    baseline: float
    samples: list[str]
    curve: list[dict[str, Any]]
    paused_brand: bool
    created_at: datetime


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None = None
