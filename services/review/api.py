"""REST routes of the review service (mounted by the api process): posts under review, their
decisions, approval policies, crisis mode and the review audit log. Thin: each route checks the
caller, calls the desk, stages the events and commits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import ContextDep, Principal, PrincipalDep, SessionDep, commit_and_publish
from services.review import crisis, desk, policies, queries
from services.review import schemas as s
from services.review.lifecycle import STATES
from services.review.models import ReviewPost

router = APIRouter(prefix="/v1")
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
PERSONS = ("admin", "editor", "approver")


def actor_of(principal: Principal) -> desk.Actor:
    return desk.Actor(principal.agency_id, principal.role, principal.actor)


def detail(session: SessionDep, post: ReviewPost) -> s.PostDetail:
    return s.PostDetail.model_validate({
        **s.PostRead.model_validate(post).model_dump(),
        "history": [s.EditRead.model_validate(e) for e in queries.edits_of(session, post)],
        "comments": [s.CommentRead.model_validate(c) for c in queries.comments_of(session, post)],
        "approvals": [s.ApprovalRead.model_validate(a)
                      for a in queries.approvals_of(session, post)],
        "audit": [s.AuditRead.model_validate(a) for a in queries.audit_of_post(session, post)],
    })


@router.get("/posts", response_model=s.PostPage, tags=["review"])
def list_posts(
    principal: PrincipalDep, session: SessionDep, brand_id: str | None = None,
    state: Annotated[list[str], Query(description=f"One or more of: {', '.join(STATES)}")] = [],  # noqa: B006
    network: str | None = None, kind: str | None = None, cursor: Cursor = None, limit: Limit = 50,
):
    if brand_id:
        queries.brand_of(session, principal.agency_id, brand_id)
    items, next_cursor = queries.list_posts(
        session, principal.agency_id, brand_id=brand_id, states=state, network=network, kind=kind,
        cursor=cursor, limit=limit)
    return s.PostPage(items=[s.PostRead.model_validate(p) for p in items], next_cursor=next_cursor)


@router.get("/posts/{post_id}", response_model=s.PostDetail, tags=["review"])
def get_post(post_id: str, principal: PrincipalDep, session: SessionDep):
    return detail(session, desk.get_post(session, principal.agency_id, post_id))


@router.patch("/posts/{post_id}", response_model=s.PostDetail, tags=["review"])
def edit_post(post_id: str, body: s.PostUpdate, principal: PrincipalDep, session: SessionDep):
    post = desk.get_post(session, principal.agency_id, post_id)
    desk.edit(session, post, actor_of(principal), body.text, body.version)
    session.commit()
    return detail(session, post)


@router.post("/posts/{post_id}/comments", response_model=s.CommentRead, status_code=201,
             tags=["review"])
def add_comment(post_id: str, body: s.CommentCreate, principal: PrincipalDep, session: SessionDep):
    post = desk.get_post(session, principal.agency_id, post_id)
    row = desk.comment(session, post, actor_of(principal), body.body)
    session.commit()
    return row


@router.post("/posts/{post_id}/decision", response_model=s.PostDetail, tags=["review"])
def decide(post_id: str, body: s.DecisionCreate, principal: PrincipalDep, session: SessionDep,
           context: ContextDep):
    """Approve (this step, or the post at the policy's last step), request changes, or reject."""
    post = desk.get_post(session, principal.agency_id, post_id)
    events = desk.decide(
        session, post, actor_of(principal), body.decision, text=body.text,
        comment_text=body.comment, publish_at=body.publish_at, best_time=body.best_time,
        account_id=body.account_id, expected_version=body.version)
    context.publisher.stage(session, events)
    commit_and_publish(session, context)
    return detail(session, post)


@router.post("/posts/{post_id}/submit", response_model=s.PostDetail, tags=["review"])
def submit(post_id: str, principal: PrincipalDep, session: SessionDep, context: ContextDep):
    """Send a post whose changes were requested back to review."""
    post = desk.get_post(session, principal.agency_id, post_id)
    context.publisher.stage(session, desk.submit(session, post, actor_of(principal)))
    commit_and_publish(session, context)
    return detail(session, post)


@router.post("/posts/{post_id}/cancel", response_model=s.PostDetail, tags=["review"])
def cancel(post_id: str, body: s.CancelCreate, principal: PrincipalDep, session: SessionDep,
           context: ContextDep):
    post = desk.get_post(session, principal.agency_id, post_id)
    events = desk.cancel(session, post, actor_of(principal), body.reason, body.version)
    context.publisher.stage(session, events)
    commit_and_publish(session, context)
    return detail(session, post)


def _policy_read(session: SessionDep, agency_id: str, brand_id: str) -> s.PolicyRead:
    policy = policies.policy_for(session, agency_id, brand_id)
    state = crisis.crisis_row(session, agency_id, brand_id)
    return s.PolicyRead(
        brand_id=brand_id,
        steps=[{"name": st.name, "roles": list(st.roles)} for st in policy.steps],
        auto_approve=policy.auto_approve, auto_approve_max_risk=policy.auto_approve_max_risk,
        crisis_threshold=state.threshold if state else crisis.DEFAULT_THRESHOLD)


@router.get("/brands/{brand_id}/approval-policy", response_model=s.PolicyRead, tags=["review"])
def get_policy(brand_id: str, principal: PrincipalDep, session: SessionDep):
    queries.brand_of(session, principal.agency_id, brand_id)
    return _policy_read(session, principal.agency_id, brand_id)


@router.put("/brands/{brand_id}/approval-policy", response_model=s.PolicyRead, tags=["review"])
def put_policy(brand_id: str, body: s.PolicyBody, principal: PrincipalDep, session: SessionDep):
    principal.require("admin")
    queries.brand_of(session, principal.agency_id, brand_id)
    policies.put_policy(session, principal.agency_id, brand_id,
                        [step.model_dump() for step in body.steps], body.auto_approve,
                        body.auto_approve_max_risk)
    crisis.set_threshold(session, principal.agency_id, brand_id, body.crisis_threshold)
    session.commit()
    return _policy_read(session, principal.agency_id, brand_id)


def _crisis_read(session: SessionDep, agency_id: str, brand_id: str) -> s.CrisisRead:
    row = crisis.crisis_row(session, agency_id, brand_id)
    if row is None:
        return s.CrisisRead(brand_id=brand_id, paused=False, threshold=crisis.DEFAULT_THRESHOLD)
    return s.CrisisRead(brand_id=brand_id, paused=row.paused, threshold=row.threshold,
                        reason=row.reason, alert_id=row.alert_id, paused_by=row.paused_by,
                        paused_at=row.paused_at)


@router.get("/brands/{brand_id}/crisis", response_model=s.CrisisRead, tags=["crisis"])
def get_crisis(brand_id: str, principal: PrincipalDep, session: SessionDep):
    queries.brand_of(session, principal.agency_id, brand_id)
    return _crisis_read(session, principal.agency_id, brand_id)


@router.post("/brands/{brand_id}/pause", response_model=s.CrisisRead, tags=["crisis"])
def pause_brand(brand_id: str, body: s.PauseCreate, principal: PrincipalDep, session: SessionDep,
                context: ContextDep):
    """Crisis mode by hand: publish holds every post of the brand until a person resumes it."""
    principal.require(*PERSONS)
    queries.brand_of(session, principal.agency_id, brand_id)
    events = crisis.pause(session, principal.agency_id, brand_id, actor=principal.actor,
                          reason=body.reason)
    context.publisher.stage(session, events)
    commit_and_publish(session, context)
    return _crisis_read(session, principal.agency_id, brand_id)


@router.post("/brands/{brand_id}/resume", response_model=s.CrisisRead, tags=["crisis"])
def resume_brand(brand_id: str, body: s.ResumeCreate, principal: PrincipalDep, session: SessionDep,
                 context: ContextDep):
    """End crisis mode: release, reschedule or cancel the posts held meanwhile."""
    principal.require(*PERSONS)
    queries.brand_of(session, principal.agency_id, brand_id)
    events = crisis.resume(session, principal.agency_id, brand_id, actor=principal.actor,
                           held_posts=body.held_posts, reschedule_to=body.reschedule_to)
    context.publisher.stage(session, events)
    commit_and_publish(session, context)
    return _crisis_read(session, principal.agency_id, brand_id)


@router.get("/crisis-alerts", response_model=s.AlertPage, tags=["crisis"])
def list_alerts(principal: PrincipalDep, session: SessionDep, brand_id: str | None = None,
                cursor: Cursor = None, limit: Limit = 50):
    items, next_cursor = queries.crisis_alerts(session, principal.agency_id, brand_id=brand_id,
                                               cursor=cursor, limit=limit)
    return s.AlertPage(items=[s.AlertRead.model_validate(a) for a in items],
                       next_cursor=next_cursor)


@router.get("/review/audit", response_model=s.AuditPage, tags=["review"])
def review_audit(principal: PrincipalDep, session: SessionDep, brand_id: str | None = None,
                 post_id: str | None = None, cursor: Cursor = None, limit: Limit = 50):
    """Every transition, decision, edit, comment, pause and resume: who, when, from, to, why."""
    items, next_cursor = queries.audit_log(session, principal.agency_id, brand_id=brand_id,
                                           post_id=post_id, cursor=cursor, limit=limit)
    return s.AuditPage(items=[s.AuditRead.model_validate(a) for a in items],
                       next_cursor=next_cursor)
