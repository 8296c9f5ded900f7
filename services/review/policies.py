"""Approval policies: a brand's ordered steps, who may act at each, and when a post may be
approved without a person (never for drafts marked `needs_person`, never for replies to
negative or sensitive mentions, never while the brand is paused)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.review.models import ApprovalPolicy, ReviewPost
from shared.db import utcnow

DECIDING_ROLES = ("admin", "editor", "approver")
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"name": "Relecture / Review", "roles": ["admin", "editor", "approver"]},
]
# Risk reasons that make a post or a reply a matter for a person, whatever its score.
SENSITIVE_CODES = frozenset({"sensitive_topic", "crisis", "legal", "health", "politics",
                             "competitor_attack", "complaint"})


@dataclass(frozen=True)
class Step:
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    brand_id: str
    steps: tuple[Step, ...]
    auto_approve: bool = False
    auto_approve_max_risk: float = 0.2

    def step(self, index: int) -> Step:
        return self.steps[min(index, len(self.steps) - 1)]

    def is_last(self, index: int) -> bool:
        return index >= len(self.steps) - 1

    def may_act(self, role: str, index: int) -> bool:
        return role in DECIDING_ROLES and role in self.step(index).roles


def _policy_of(row: ApprovalPolicy | None, brand_id: str) -> Policy:
    if row is None or not row.steps:
        steps = DEFAULT_STEPS
        auto, max_risk = (row.auto_approve, row.auto_approve_max_risk) if row else (False, 0.2)
    else:
        steps, auto, max_risk = row.steps, row.auto_approve, row.auto_approve_max_risk
    return Policy(
        brand_id=brand_id,
        steps=tuple(Step(name=s["name"], roles=tuple(s["roles"])) for s in steps),
        auto_approve=auto, auto_approve_max_risk=max_risk,
    )


def policy_row(session: Session, agency_id: str, brand_id: str) -> ApprovalPolicy | None:
    return session.scalars(
        select(ApprovalPolicy).where(ApprovalPolicy.agency_id == agency_id,
                                     ApprovalPolicy.brand_id == brand_id)
    ).first()


def policy_for(session: Session, agency_id: str, brand_id: str) -> Policy:
    return _policy_of(policy_row(session, agency_id, brand_id), brand_id)


def put_policy(
    session: Session, agency_id: str, brand_id: str, steps: list[dict[str, Any]],
    auto_approve: bool, auto_approve_max_risk: float,
) -> Policy:
    row = policy_row(session, agency_id, brand_id)
    if row is None:
        row = ApprovalPolicy(agency_id=agency_id, brand_id=brand_id)
        session.add(row)
    row.steps = steps
    row.auto_approve = auto_approve
    row.auto_approve_max_risk = auto_approve_max_risk
    row.updated_at = utcnow()
    session.flush()
    return _policy_of(row, brand_id)


def why_not_automatic(post: ReviewPost, policy: Policy, brand_paused: bool) -> str | None:
    """None when `post` may be approved without a person, else the reason it may not."""
    if not policy.auto_approve:
        return "the brand does not approve automatically"
    if brand_paused:
        return "the brand is paused (crisis mode)"
    if post.needs_person:
        return "the draft asks for a person"
    if post.risk_score > policy.auto_approve_max_risk:
        return f"risk {post.risk_score:.2f} is above {policy.auto_approve_max_risk:.2f}"
    if any(reason.get("code") in SENSITIVE_CODES for reason in post.risk_reasons):
        return "a risk reason is sensitive"
    if post.kind == "reply" and post.mention_sentiment not in ("positive", "neutral"):
        return "a reply to a negative (or unrated) mention"
    return None
