"""A post's life cycle as one state machine.

    draft ─▶ in_review ─▶ approved ─▶ scheduled ─▶ publishing ─▶ published
                │  ▲          │           │            └──────▶ failed ─▶ (scheduled again)
                ▼  │          └───────────┴──▶ published / failed (publish's events may
        changes_requested                          arrive out of order)
    plus rejected (a person says no) and cancelled (a person, or a crisis, withdraws it).

Every change of state goes through `transition`: it refuses an illegal move (409 with the
current state), writes the row with an optimistic version check (`UPDATE ... WHERE version =
:v`, so of two concurrent decisions one wins and the other gets 409), records an audit entry
and returns the `PostTransitioned` event to stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from services.review.models import ReviewAuditEntry, ReviewPost
from shared.db import utcnow
from shared.events import Event, PostTransitioned, new_event
from shared.problems import Problem

DRAFT = "draft"
IN_REVIEW = "in_review"
CHANGES_REQUESTED = "changes_requested"
APPROVED = "approved"
SCHEDULED = "scheduled"
PUBLISHING = "publishing"
PUBLISHED = "published"
FAILED = "failed"
REJECTED = "rejected"
CANCELLED = "cancelled"

STATES = (DRAFT, IN_REVIEW, CHANGES_REQUESTED, APPROVED, SCHEDULED, PUBLISHING, PUBLISHED,
          FAILED, REJECTED, CANCELLED)

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({IN_REVIEW, CANCELLED}),
    IN_REVIEW: frozenset({CHANGES_REQUESTED, APPROVED, REJECTED, CANCELLED}),
    CHANGES_REQUESTED: frozenset({IN_REVIEW, REJECTED, CANCELLED}),
    # publish may report "published" or "failed" without a "scheduled" first
    APPROVED: frozenset({SCHEDULED, PUBLISHING, PUBLISHED, FAILED, CANCELLED}),
    SCHEDULED: frozenset({PUBLISHING, PUBLISHED, FAILED, CANCELLED}),
    PUBLISHING: frozenset({PUBLISHED, FAILED}),
    # a failed post may be retried by publish (scheduled again) or withdrawn
    FAILED: frozenset({SCHEDULED, PUBLISHING, PUBLISHED, CANCELLED}),
    PUBLISHED: frozenset(),
    REJECTED: frozenset(),
    CANCELLED: frozenset(),
}

EDITABLE = frozenset({DRAFT, IN_REVIEW, CHANGES_REQUESTED})
HELD_BY_CRISIS = frozenset({APPROVED, SCHEDULED})
# How far publishing has gone: a publish event that would move a post backwards is stale.
PUBLISH_PROGRESS = {APPROVED: 0, FAILED: 1, SCHEDULED: 1, PUBLISHING: 2, PUBLISHED: 3}


class IllegalTransition(Problem):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(409, f"a post in state {current!r} cannot become {wanted!r}",
                         kind="illegal-transition", state=current, wanted=wanted)
        self.current = current
        self.wanted = wanted


class PostChanged(Problem):
    def __init__(self, post_id: str, state: str) -> None:
        super().__init__(409, f"post {post_id} was changed by someone else meanwhile; reload it",
                         kind="post-changed", state=state)


def can_transition(current: str, wanted: str) -> bool:
    return wanted in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, wanted: str) -> None:
    if not can_transition(current, wanted):
        raise IllegalTransition(current, wanted)


def save_versioned(session: Session, post: ReviewPost, **values: Any) -> None:
    """`UPDATE review_posts SET ..., version = v + 1 WHERE id = :id AND version = :v`."""
    values["updated_at"] = utcnow()
    session.flush()
    result = session.execute(
        update(ReviewPost)
        .where(ReviewPost.id == post.id, ReviewPost.version == post.version)
        .values(version=post.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(post)
        raise PostChanged(post.id, post.state)
    for name, value in {**values, "version": post.version + 1}.items():
        set_committed_value(post, name, value)


def audit(
    session: Session, *, agency_id: str, brand_id: str, actor: str, action: str,
    post_id: str | None = None, from_state: str | None = None, to_state: str | None = None,
    reason: str = "", at: datetime | None = None,
) -> ReviewAuditEntry:
    entry = ReviewAuditEntry(
        agency_id=agency_id, brand_id=brand_id, post_id=post_id, actor=actor, action=action,
        from_state=from_state, to_state=to_state, reason=reason, created_at=at or utcnow(),
    )
    session.add(entry)
    return entry


def transition(
    session: Session, post: ReviewPost, to_state: str, *, actor: str, reason: str = "",
    **changes: Any,
) -> Event:
    """Move `post` to `to_state` (with other column `changes`); returns the event to stage."""
    from_state = post.state
    check_transition(from_state, to_state)
    save_versioned(session, post, state=to_state, **changes)
    audit(session, agency_id=post.agency_id, brand_id=post.brand_id, post_id=post.id,
          actor=actor, action="transition", from_state=from_state, to_state=to_state,
          reason=reason)
    return new_event(
        PostTransitioned(brand_id=post.brand_id, post_id=post.id, from_state=from_state,
                         to_state=to_state, actor=actor, reason=reason),
        tenant=post.agency_id, source="review", subject=post.id,
    )
