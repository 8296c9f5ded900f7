"""Crisis mode: an alert above the brand's threshold pauses it; only a person resumes it."""

from __future__ import annotations

import pytest

from services.review import crisis, desk, handlers
from services.review.models import CrisisAlert, ReviewPost
from shared.events import BrandPaused, BrandResumed, CrisisAlerted, PostTransitioned, new_event
from shared.problems import Problem
from tests.services.review.conftest import draft_event

CURVE = [
    {"t": f"2030-01-01T0{i}:00:00+00:00", "volume": v, "negative": n, "negative_share": n / v}
    for i, (v, n) in enumerate([(10, 1), (12, 2), (40, 30)])
]


def alert(tenant, severity: float, alert_id: str = "alert-1"):
    return new_event(
        CrisisAlerted(
            brand_id=tenant.brand_id,
            alert_id=alert_id,
            severity=severity,
            reason="pic de mentions négatives",
            volume=40,
            samples=["nul"],
            curve=CURVE,
        ),
        tenant=tenant.agency_id,
        source="ingest",
    )


def test_an_alert_above_the_threshold_pauses_the_brand_once(session, tenant):
    events = handlers.on_crisis_alerted(alert(tenant, 0.8), session)
    assert [type(e.data) for e in events] == [BrandPaused]
    assert events[0].data.alert_id == "alert-1" and events[0].data.actor == "system:crisis-detector"
    assert crisis.is_paused(session, tenant.agency_id, tenant.brand_id)
    assert session.get(CrisisAlert, "alert-1").curve == CURVE
    assert (
        handlers.on_crisis_alerted(alert(tenant, 0.9, "alert-2"), session) == []
    )  # already paused


def test_an_alert_below_the_threshold_is_kept_but_does_not_pause(session, tenant):
    assert handlers.on_crisis_alerted(alert(tenant, 0.5), session) == []
    assert not crisis.is_paused(session, tenant.agency_id, tenant.brand_id)
    crisis.set_threshold(session, tenant.agency_id, tenant.brand_id, 0.4)
    assert len(handlers.on_crisis_alerted(alert(tenant, 0.5, "alert-2"), session)) == 1


def test_resume_with_cancel_cancels_the_held_posts(session, tenant):
    event = draft_event(tenant)
    handlers.on_draft_created(event, session)
    post = session.get(ReviewPost, event.data.draft_id)
    desk.decide(session, post, tenant.actor("editor"), "approve")
    crisis.pause(session, tenant.agency_id, tenant.brand_id, actor="user:ed", reason="bad buzz")
    with pytest.raises(Problem) as twice:
        crisis.pause(session, tenant.agency_id, tenant.brand_id, actor="user:ed")
    assert twice.value.status == 409
    events = crisis.resume(
        session, tenant.agency_id, tenant.brand_id, actor="user:ed", held_posts="cancel"
    )
    assert post.state == "cancelled"
    assert [type(e.data) for e in events] == [PostTransitioned, BrandResumed]
    assert events[-1].data.held_posts == "cancel"
    with pytest.raises(Problem):
        crisis.resume(session, tenant.agency_id, tenant.brand_id, actor="user:ed")


def test_reschedule_needs_a_time(session, tenant):
    crisis.pause(session, tenant.agency_id, tenant.brand_id, actor="user:ed")
    with pytest.raises(Problem) as refused:
        crisis.resume(
            session, tenant.agency_id, tenant.brand_id, actor="user:ed", held_posts="reschedule"
        )
    assert refused.value.status == 422
