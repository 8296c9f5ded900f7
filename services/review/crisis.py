"""Crisis mode per brand: a crisis alert above the brand's threshold (or a person) pauses the
brand; only a person resumes it, choosing what happens to the posts held meanwhile."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from services.review import lifecycle
from services.review.models import BrandCrisis, CrisisAlert, ReviewPost
from shared.db import utcnow
from shared.events import BrandPaused, BrandResumed, CrisisAlerted, Event, new_event
from shared.problems import Problem

DEFAULT_THRESHOLD = 0.6
HeldPosts = Literal["release", "reschedule", "cancel"]


def crisis_row(session: Session, agency_id: str, brand_id: str) -> BrandCrisis | None:
    return session.scalars(
        select(BrandCrisis)
        .where(BrandCrisis.agency_id == agency_id, BrandCrisis.brand_id == brand_id)
    ).first()


def crisis_state(session: Session, agency_id: str, brand_id: str) -> BrandCrisis:
    row = crisis_row(session, agency_id, brand_id)
    if row is None:
        row = BrandCrisis(agency_id=agency_id, brand_id=brand_id, paused=False,
                          threshold=DEFAULT_THRESHOLD, version=1)
        session.add(row)
        session.flush()
    return row


def is_paused(session: Session, agency_id: str, brand_id: str) -> bool:
    row = crisis_row(session, agency_id, brand_id)
    return bool(row and row.paused)


def set_threshold(session: Session, agency_id: str, brand_id: str, threshold: float) -> None:
    crisis_state(session, agency_id, brand_id).threshold = threshold


def latest_alert(session: Session, agency_id: str, brand_id: str) -> CrisisAlert | None:
    return session.scalars(
        select(CrisisAlert)
        .where(CrisisAlert.agency_id == agency_id, CrisisAlert.brand_id == brand_id)
        .order_by(CrisisAlert.created_at.desc())
    ).first()


def _flip(session: Session, row: BrandCrisis, paused: bool, **values: object) -> None:
    """Change paused ↔ running once: of two people pressing at once, one gets 409."""
    result = session.execute(
        update(BrandCrisis)
        .where(BrandCrisis.id == row.id, BrandCrisis.version == row.version,
               BrandCrisis.paused.is_(not paused))
        .values(paused=paused, version=row.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(row)
        word = "paused" if row.paused else "running"
        raise Problem(409, f"the brand is already {word}", kind="brand-state", paused=row.paused)
    for name, value in {"paused": paused, "version": row.version + 1, **values}.items():
        set_committed_value(row, name, value)


def pause(session: Session, agency_id: str, brand_id: str, *, actor: str, reason: str = "",
          alert_id: str | None = None) -> list[Event]:
    row = crisis_state(session, agency_id, brand_id)
    _flip(session, row, True, reason=reason, alert_id=alert_id, paused_by=actor,
          paused_at=utcnow())
    lifecycle.audit(session, agency_id=agency_id, brand_id=brand_id, actor=actor,
                    action="brand_paused", reason=reason)
    return [new_event(BrandPaused(brand_id=brand_id, actor=actor, reason=reason, alert_id=alert_id),
                      tenant=agency_id, source="review", subject=brand_id)]


def resume(session: Session, agency_id: str, brand_id: str, *, actor: str,
           held_posts: HeldPosts = "release", reschedule_to: datetime | None = None) -> list[Event]:
    """A person ends the pause; with "cancel", the brand's held posts are cancelled here too."""
    if held_posts == "reschedule" and reschedule_to is None:
        raise Problem(422, "rescheduling needs reschedule_to", kind="validation-error")
    row = crisis_state(session, agency_id, brand_id)
    _flip(session, row, False, resumed_at=utcnow())
    lifecycle.audit(session, agency_id=agency_id, brand_id=brand_id, actor=actor,
                    action="brand_resumed", reason=held_posts)
    events: list[Event] = []
    if held_posts == "cancel":
        held = session.scalars(
            select(ReviewPost).where(
                ReviewPost.agency_id == agency_id, ReviewPost.brand_id == brand_id,
                ReviewPost.state.in_(lifecycle.HELD_BY_CRISIS))
        ).all()
        for post in held:
            events.append(lifecycle.transition(session, post, lifecycle.CANCELLED, actor=actor,
                                               reason="cancelled when the crisis ended"))
    events.append(new_event(
        BrandResumed(brand_id=brand_id, actor=actor, held_posts=held_posts,
                     reschedule_to=reschedule_to),
        tenant=agency_id, source="review", subject=brand_id))
    return events


def receive_alert(session: Session, agency_id: str, alert: CrisisAlerted) -> list[Event]:
    """Keep the alert's evidence; pause the brand when it is severe enough."""
    if session.get(CrisisAlert, alert.alert_id) is not None:
        return []
    row = crisis_state(session, agency_id, alert.brand_id)
    record = CrisisAlert(
        id=alert.alert_id, agency_id=agency_id, brand_id=alert.brand_id, severity=alert.severity,
        reason=alert.reason, negative_share=alert.negative_share, volume=alert.volume,
        baseline=alert.baseline, samples=list(alert.samples), curve=list(alert.curve),
    )
    session.add(record)
    lifecycle.audit(session, agency_id=agency_id, brand_id=alert.brand_id, actor="system:ingest",
                    action="crisis_alert", reason=f"{alert.severity:.2f} {alert.reason}"[:500])
    if alert.severity < row.threshold or row.paused:
        return []
    record.paused_brand = True
    return pause(session, agency_id, alert.brand_id, actor="system:crisis-detector",
                 reason=alert.reason, alert_id=alert.alert_id)
