"""Crisis detection on synthetic streams: quiet weeks raise nothing, injected crises are
raised quickly, once each (no flapping), and cleared afterwards."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.ingest import crisis
from services.ingest.models import CrisisAlert
from shared.events import CrisisAlerted
from tests.services.ingest.synthetic import START, crisis_stream, median


def run(items):  # type: ignore[no-untyped-def]
    detector = crisis.CrisisDetector()
    return [(item.at, decision) for item in items
            for decision in detector.observe(item.at, item.negative, item.text)]


def test_a_quiet_week_raises_no_crisis():
    raised = 0
    for seed in range(20):  # 20 brands, a week each, daily rhythm, stray trigger words
        items, _ = crisis_stream(seed)
        raised += sum(1 for _, decision in run(items) if decision.action == "raise")
    print(f"\nquiet weeks: {raised} alerts in 20 brand-weeks")
    assert raised == 0


def test_crises_are_raised_once_quickly_and_cleared():
    raises = true_raises = recalled = total = cleared = 0
    delays: list[float] = []
    for seed in range(20):
        items, injected = crisis_stream(100 + seed, crises=2)
        decisions = run(items)
        raised_at = [at for at, d in decisions if d.action == "raise"]
        raises += len(raised_at)
        for event in injected:
            total += 1
            inside = [at for at in raised_at if event.start <= at <= event.end]
            true_raises += len(inside)
            assert len(inside) <= 1, "an alert flapped during one crisis"
            if inside:
                recalled += 1
                delays.append((inside[0] - event.start).total_seconds() / 60)
            if any(d.action == "clear" and at > event.end for at, d in decisions):
                cleared += 1
    precision, recall = true_raises / raises, recalled / total
    print(f"\ncrises: precision {precision:.2f}, recall {recall:.2f} ({recalled}/{total}), "
          f"delay median {median(delays):.1f} min, max {max(delays):.1f} min, cleared {cleared}")
    assert precision >= 0.9
    assert recall >= 0.9
    assert median(delays) <= 30
    assert cleared == recalled


def test_trigger_terms_alone_raise_an_alert():
    items, _ = crisis_stream(7, days=2)
    detector = crisis.CrisisDetector()
    for item in items:
        detector.observe(item.at, item.negative, item.text)
    moment = START + timedelta(days=2, hours=1)
    decisions = []
    for index in range(4):
        decisions += detector.observe(moment + timedelta(minutes=5 * index), True,
                                      "Appel au #boycott après l'intoxication de mon fils")
    assert [d.action for d in decisions] == ["raise"]
    assert "boycott" in decisions[0].reason and "intoxication" in decisions[0].reason


def test_observe_mention_records_the_alert_with_evidence(session):
    items, injected = crisis_stream(101, days=4, crises=1)
    events = []
    for item in items:
        events += crisis.observe_mention(session, agency_id="ag", brand_id="b1", moment=item.at,
                                         negative=item.negative, text=item.text)
    session.flush()
    assert len(events) == 1
    alert = events[0].data
    assert isinstance(alert, CrisisAlerted)
    assert 0 < alert.severity <= 1 and alert.samples and alert.volume > 0
    assert {"t", "volume", "negative_share"} <= set(alert.curve[-1])
    stored = session.scalars(select(CrisisAlert)).one()
    assert stored.id == alert.alert_id and stored.status == "cleared"
    assert stored.cleared_at > injected[0].end
