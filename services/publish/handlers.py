"""Handlers of the publish service: plain functions (event, session[, deps]) -> list[new events].

- posts.approved -> a schedule row and `posts.scheduled` (fixed time, best time or queue);
- posts.due -> the network call (see attempts.py) -> `posts.published` / `posts.failed`;
- brand.paused / brand.resumed -> our paused-brand table; held posts released, rescheduled
  or cancelled;
- metrics.observed -> engagement history for the best time to post;
- posts.transitioned to cancelled (a person cancelled it in review) -> off the schedule.

`build_handlers(deps)` binds the dependencies (network registry, secrets, outbox, clock).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.publish import best_time, scheduler
from services.publish.attempts import PublishDependencies, event_of, failed, on_post_due
from services.publish.models import (
    CANCELLED,
    DUE,
    FAILED,
    HELD,
    PUBLISHED,
    PUBLISHING,
    SCHEDULED,
    PausedBrand,
    ScheduledPost,
)
from shared.events import (
    BrandPaused,
    BrandResumed,
    Event,
    MetricsObserved,
    PostApproved,
    PostDue,
    PostScheduled,
    PostTransitioned,
    new_event,
)
from shared.runner import Handler


def _content(payload: PostApproved) -> dict[str, object]:
    return {
        "text": payload.text, "media": [m.model_dump() for m in payload.media],
        "thread": list(payload.thread), "first_comment": payload.first_comment,
        "reply_to_external_id": payload.reply_to_external_id,
    }


def _mode(payload: PostApproved) -> str:
    return "queue" if payload.queue else "best_time" if payload.best_time else "fixed"


def on_post_approved(event: Event, session: Session, deps: PublishDependencies) -> list[Event]:
    payload = event.data
    assert isinstance(payload, PostApproved)
    post = session.get(ScheduledPost, payload.post_id)
    if post is not None and (post.agency_id != event.tenant
                             or post.status in (DUE, PUBLISHING, PUBLISHED)):
        return []  # not ours, or already on its way: a late re-approval changes nothing
    content = _content(payload)
    if post is None:
        post = ScheduledPost(id=payload.post_id, agency_id=event.tenant, generation=1, retries=0,
                             publish_at=deps.clock(), **content)
        session.add(post)
    elif post.status in (FAILED, CANCELLED):
        # Approved again after a failure: retries start over. A new idempotency key only if
        # the content changed, so a post that did go out unseen is not published twice.
        if any(getattr(post, key) != value for key, value in content.items()):
            post.generation += 1
        post.retries, post.failure_reason, post.external_id = 0, "", None
    for key, value in content.items():
        setattr(post, key, value)
    post.brand_id, post.account_id = payload.brand_id, payload.account_id
    post.network = payload.network
    post.mode = _mode(payload)
    return [place(session, post, deps.clock(), requested=payload.publish_at)]


def place(session: Session, post: ScheduledPost, now: datetime,
          requested: datetime | None = None) -> Event:
    """Give `post` its time by its mode, within the account's spacing and daily cap."""
    zone = scheduler.brand_zone(session, post.brand_id, post.agency_id)
    account = scheduler.account_of(session, post.account_id, post.agency_id)
    rules = scheduler.AccountRules.of(account, post.network)
    session.flush()
    taken = scheduler.taken_times(session, post.account_id, now, exclude_post=post.id)
    notes: list[str] = []
    if post.mode == "queue" and rules.queue_slots:
        last = scheduler.last_queued(session, post.account_id, exclude_post=post.id)
        after = max(now, last or now)
        found = scheduler.next_queue_time(rules.queue_slots, zone, after, taken, rules)
        if found is None:
            found = (scheduler.fit(now, taken, rules), "the queue has no free slot")
        at, note = found
    elif post.mode == "best_time":
        ranked = best_time.best_times_for(session, post.account_id, post.agency_id,
                                          post.network, now).slots
        at, note = scheduler.next_best_time([slot.hour_of_week for slot in ranked], zone, now,
                                            taken, rules)
    else:
        if post.mode == "queue":
            notes.append("no queue slots are set for this account: as soon as possible")
        wanted, note = scheduler.to_utc(requested, zone) if requested else (now, "")
        post.requested_at = wanted if requested else None
        at = scheduler.fit(max(wanted, now), taken, rules)
        if at > max(wanted, now):
            notes.append(f"moved to {at.astimezone(zone):%Y-%m-%d %H:%M %Z} to keep the account's "
                         "spacing and daily cap")
    post.publish_at, post.status, post.claimed_at = at, SCHEDULED, None
    post.schedule_note = "; ".join(part for part in (note, *notes) if part)
    return event_of(post, PostScheduled(brand_id=post.brand_id, post_id=post.id,
                                        account_id=post.account_id, publish_at=at))


def on_brand_paused(event: Event, session: Session, deps: PublishDependencies) -> list[Event]:
    payload = event.data
    assert isinstance(payload, BrandPaused)
    row = session.get(PausedBrand, payload.brand_id)
    if row is None:
        session.add(PausedBrand(agency_id=event.tenant, brand_id=payload.brand_id,
                                reason=payload.reason, paused_at=deps.clock()))
    return []


def on_brand_resumed(event: Event, session: Session, deps: PublishDependencies) -> list[Event]:
    payload = event.data
    assert isinstance(payload, BrandResumed)
    row = session.get(PausedBrand, payload.brand_id)
    if row is not None and row.agency_id == event.tenant:
        session.delete(row)
    now = deps.clock()
    held = session.scalars(select(ScheduledPost).where(
        ScheduledPost.agency_id == event.tenant, ScheduledPost.brand_id == payload.brand_id,
        ScheduledPost.status == HELD).order_by(ScheduledPost.publish_at)).all()
    news: list[Event] = []
    for post in held:
        if payload.held_posts == "cancel":
            news.append(failed(post, f"cancelled by {payload.actor} when the brand resumed after "
                                     "a crisis pause", retryable=False, now=now))
            post.status = CANCELLED
        elif payload.held_posts == "reschedule":
            post.mode = "fixed" if payload.reschedule_to else post.mode
            news.append(place(session, post, now, requested=payload.reschedule_to))
        else:  # release: out as soon as the schedule allows
            post.status, post.claimed_at = SCHEDULED, None
            post.publish_at = max(post.publish_at, now)
            news.append(new_event(PostScheduled(
                brand_id=post.brand_id, post_id=post.id, account_id=post.account_id,
                publish_at=post.publish_at), tenant=post.agency_id, source="publish"))
    return news


def on_post_transitioned(event: Event, session: Session, deps: PublishDependencies) -> list[Event]:
    """A person cancelled a post in review: drop it from the schedule unless it is already
    on its way to the network (then it goes out, and review learns so from posts.published)."""
    payload = event.data
    assert isinstance(payload, PostTransitioned)
    if payload.to_state != CANCELLED:
        return []
    post = session.get(ScheduledPost, payload.post_id)
    if post is not None and post.agency_id == event.tenant and post.status in (SCHEDULED, DUE, HELD):
        post.status = CANCELLED
        post.schedule_note = f"cancelled by {payload.actor}"
    return []


def on_metrics_observed(event: Event, session: Session, deps: PublishDependencies) -> list[Event]:
    return best_time.on_metrics_observed(event, session)


def build_handlers(deps: PublishDependencies) -> dict[str, Handler]:
    return {
        PostApproved.type: partial(on_post_approved, deps=deps),
        PostDue.type: partial(on_post_due, deps=deps),
        BrandPaused.type: partial(on_brand_paused, deps=deps),
        BrandResumed.type: partial(on_brand_resumed, deps=deps),
        MetricsObserved.type: partial(on_metrics_observed, deps=deps),
        PostTransitioned.type: partial(on_post_transitioned, deps=deps),
    }
