"""Handlers of the review service: plain functions (event, session) -> list[new events].

- drafts.created: a post in review (post id = draft id), automatically approved only when
  the brand's policy allows it.
- posts.scheduled / posts.due / posts.published / posts.failed (publish): the post follows.
  Their order is not guaranteed (posts.due is keyed by account, the others by brand), so an
  event that would move a post backwards is stale and ignored, never an error.
- alerts.crisis: the evidence is kept; above the brand's threshold the brand is paused.
- review.decided: a decision sent as a command goes through the same desk as the REST API.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from services.review import crisis, desk, lifecycle
from services.review.lifecycle import FAILED, PUBLISH_PROGRESS, PUBLISHED, PUBLISHING, SCHEDULED
from services.review.models import ReviewPost
from shared.events import (
    CrisisAlerted,
    DraftCreated,
    Event,
    PostDue,
    PostFailed,
    PostPublished,
    PostScheduled,
    ReviewDecided,
)
from shared.problems import Problem
from shared.runner import Handler

log = logging.getLogger(__name__)
PUBLISH_ACTOR = "system:publish"


def on_draft_created(event: Event, session: Session) -> list[Event]:
    assert isinstance(event.data, DraftCreated)
    return desk.receive_draft(session, event.tenant, event.data)


def on_crisis_alerted(event: Event, session: Session) -> list[Event]:
    assert isinstance(event.data, CrisisAlerted)
    return crisis.receive_alert(session, event.tenant, event.data)


def _follow(session: Session, event: Event, post_id: str, to_state: str, reason: str = "",
            **changes: Any) -> list[Event]:
    post = session.get(ReviewPost, post_id)
    if post is None or post.agency_id != event.tenant:
        log.info("publish event for a post review does not know", extra={"post_id": post_id})
        return []
    if to_state == SCHEDULED and post.state == SCHEDULED:  # moved to another time
        lifecycle.save_versioned(session, post, **changes)
        lifecycle.audit(session, agency_id=post.agency_id, brand_id=post.brand_id, post_id=post.id,
                        actor=PUBLISH_ACTOR, action="rescheduled", from_state=SCHEDULED,
                        to_state=SCHEDULED, reason=reason)
        return []
    stale = (post.state != FAILED and post.state in PUBLISH_PROGRESS
             and PUBLISH_PROGRESS[post.state] >= PUBLISH_PROGRESS.get(to_state, -1))
    if stale or not lifecycle.can_transition(post.state, to_state):
        lifecycle.audit(session, agency_id=post.agency_id, brand_id=post.brand_id, post_id=post.id,
                        actor=PUBLISH_ACTOR, action="event_ignored", from_state=post.state,
                        to_state=to_state, reason=f"{event.type} arrived in state {post.state}")
        return []
    return [lifecycle.transition(session, post, to_state, actor=PUBLISH_ACTOR, reason=reason,
                                 **changes)]


def on_post_scheduled(event: Event, session: Session) -> list[Event]:
    payload = event.data
    assert isinstance(payload, PostScheduled)
    return _follow(session, event, payload.post_id, SCHEDULED,
                   reason=f"for {payload.publish_at.isoformat()}",
                   scheduled_at=payload.publish_at, account_id=payload.account_id)


def on_post_due(event: Event, session: Session) -> list[Event]:
    payload = event.data
    assert isinstance(payload, PostDue)
    return _follow(session, event, payload.post_id, PUBLISHING, reason="due")


def on_post_published(event: Event, session: Session) -> list[Event]:
    payload = event.data
    assert isinstance(payload, PostPublished)
    return _follow(session, event, payload.post_id, PUBLISHED, reason=payload.url,
                   published_at=payload.published_at, external_url=payload.url)


def on_post_failed(event: Event, session: Session) -> list[Event]:
    payload = event.data
    assert isinstance(payload, PostFailed)
    return _follow(session, event, payload.post_id, FAILED, reason=payload.reason[:500],
                   failure_reason=payload.reason)


def on_review_decided(event: Event, session: Session) -> list[Event]:
    payload = event.data
    assert isinstance(payload, ReviewDecided)
    post = session.get(ReviewPost, payload.post_id)
    if post is None or post.agency_id != event.tenant:
        return []
    actor = desk.Actor(event.tenant, payload.role or "editor", payload.actor)
    try:
        if payload.decision == "cancel":
            return desk.cancel(session, post, actor, payload.comment)
        if payload.decision == "submit":
            return desk.submit(session, post, actor)
        return desk.decide(session, post, actor, payload.decision, text=payload.text,
                           comment_text=payload.comment, publish_at=payload.publish_at,
                           best_time=payload.best_time, account_id=payload.account_id)
    except Problem as refused:  # a command refused is logged, not retried
        lifecycle.audit(session, agency_id=post.agency_id, brand_id=post.brand_id, post_id=post.id,
                        actor=payload.actor, action="decision_refused", from_state=post.state,
                        reason=refused.detail[:500])
        return []


HANDLERS: dict[str, Handler] = {
    DraftCreated.type: on_draft_created,
    CrisisAlerted.type: on_crisis_alerted,
    PostScheduled.type: on_post_scheduled,
    PostDue.type: on_post_due,
    PostPublished.type: on_post_published,
    PostFailed.type: on_post_failed,
    ReviewDecided.type: on_review_decided,
}
