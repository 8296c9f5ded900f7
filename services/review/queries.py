"""Tenant-scoped reads of the review service's tables, shared by the REST API and the web pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.review.models import (
    CrisisAlert,
    PostComment,
    PostEdit,
    ReviewAuditEntry,
    ReviewPost,
    StepApproval,
)
from shared.db import get_owned, tenant_select
from shared.models import Brand
from shared.pagination import page_of, paginate


def brand_of(session: Session, agency_id: str, brand_id: str) -> Brand:
    """The brand if it is this agency's (else NotFound: a 404)."""
    return get_owned(session, Brand, brand_id, agency_id)


def brands(session: Session, agency_id: str) -> list[Brand]:
    return list(session.scalars(tenant_select(Brand, agency_id).order_by(Brand.name, Brand.id)))


def list_posts(
    session: Session, agency_id: str, *, brand_id: str | None = None,
    states: Sequence[str] = (), network: str | None = None, kind: str | None = None,
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[ReviewPost], str | None]:
    query = tenant_select(ReviewPost, agency_id)
    if brand_id:
        query = query.where(ReviewPost.brand_id == brand_id)
    if states:
        query = query.where(ReviewPost.state.in_(list(states)))
    if network:
        query = query.where(ReviewPost.network == network)
    if kind:
        query = query.where(ReviewPost.kind == kind)
    return page_of(list(session.scalars(paginate(query, ReviewPost, cursor, limit))), limit)


def planned_posts(session: Session, agency_id: str, brand_id: str, start: datetime,
                  end: datetime) -> list[ReviewPost]:
    """Posts going (or gone) out in [start, end): approved for a time, scheduled, published."""
    when = [ReviewPost.scheduled_at, ReviewPost.publish_at, ReviewPost.published_at]
    rows = session.scalars(
        tenant_select(ReviewPost, agency_id).where(
            ReviewPost.brand_id == brand_id,
            ReviewPost.state.in_(["approved", "scheduled", "publishing", "published", "failed"]),
            or_(*[(column >= start) & (column < end) for column in when]),
        )
    ).all()
    return sorted((p for p in rows if start <= (moment_of(p) or end) < end),
                  key=lambda p: moment_of(p) or end)


def moment_of(post: ReviewPost) -> datetime | None:
    """When the post goes (or went) out, as best known."""
    return post.published_at or post.scheduled_at or post.publish_at


def edits_of(session: Session, post: ReviewPost) -> list[PostEdit]:
    return list(session.scalars(
        select(PostEdit).where(PostEdit.agency_id == post.agency_id, PostEdit.post_id == post.id)
        .order_by(PostEdit.created_at)))


def comments_of(session: Session, post: ReviewPost) -> list[PostComment]:
    return list(session.scalars(
        select(PostComment).where(PostComment.agency_id == post.agency_id,
                                  PostComment.post_id == post.id)
        .order_by(PostComment.created_at)))


def approvals_of(session: Session, post: ReviewPost) -> list[StepApproval]:
    return list(session.scalars(
        select(StepApproval).where(StepApproval.agency_id == post.agency_id,
                                   StepApproval.post_id == post.id)
        .order_by(StepApproval.created_at)))


def audit_of_post(session: Session, post: ReviewPost) -> list[ReviewAuditEntry]:
    return list(session.scalars(
        select(ReviewAuditEntry).where(ReviewAuditEntry.agency_id == post.agency_id,
                                       ReviewAuditEntry.post_id == post.id)
        .order_by(ReviewAuditEntry.created_at, ReviewAuditEntry.id)))


def audit_log(
    session: Session, agency_id: str, *, brand_id: str | None = None, post_id: str | None = None,
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[ReviewAuditEntry], str | None]:
    query = tenant_select(ReviewAuditEntry, agency_id)
    if brand_id:
        query = query.where(ReviewAuditEntry.brand_id == brand_id)
    if post_id:
        query = query.where(ReviewAuditEntry.post_id == post_id)
    return page_of(list(session.scalars(paginate(query, ReviewAuditEntry, cursor, limit))), limit)


def crisis_alerts(
    session: Session, agency_id: str, *, brand_id: str | None = None, cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[CrisisAlert], str | None]:
    query = tenant_select(CrisisAlert, agency_id)
    if brand_id:
        query = query.where(CrisisAlert.brand_id == brand_id)
    return page_of(list(session.scalars(paginate(query, CrisisAlert, cursor, limit))), limit)
