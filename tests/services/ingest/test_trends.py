"""Trend watch on synthetic streams with injected bursts, and its database side."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.ingest import trends
from services.ingest.models import TermStat, Trend, WatchTerm
from shared.events import TrendDetected
from tests.services.ingest.synthetic import START, median, trend_stream

LATE = timedelta(hours=1)  # a detection up to one window after the burst still counts


def test_bursts_are_found_with_few_false_alarms_and_little_delay():
    detections = true_positives = 0
    recalled = injected_total = 0
    delays: list[float] = []
    for seed in range(6):
        items, injected = trend_stream(seed)
        detector = trends.TrendDetector()
        found = [(item.at, burst) for item in items
                 for burst in detector.observe(item.text, item.at)]
        detections += len(found)
        true_positives += sum(
            1 for at, burst in found
            if any(burst.term == i.key and i.start <= at <= i.end + LATE for i in injected))
        for burst in injected:
            hits = [at for at, b in found
                    if b.term == burst.key and burst.start <= at <= burst.end + LATE]
            injected_total += 1
            if hits:
                recalled += 1
                delays.append((hits[0] - burst.start).total_seconds() / 60)
    precision, recall = true_positives / detections, recalled / injected_total
    print(f"\ntrends: precision {precision:.2f}, recall {recall:.2f} ({recalled}/{injected_total}),"
          f" delay median {median(delays):.1f} min, max {max(delays):.1f} min")
    assert precision >= 0.85
    assert recall >= 0.9
    assert median(delays) <= 20


def test_a_steady_term_never_trends_and_the_first_day_is_a_warm_up():
    detector = trends.TrendDetector()
    found = []
    for minute in range(0, 3 * 24 * 60, 3):  # "espresso" 20 times an hour, for three days
        found += detector.observe("espresso du matin", START + timedelta(minutes=minute))
    assert found == []
    early = trends.TrendDetector()
    burst = [b for m in range(60) for b in early.observe("#nouveau", START + timedelta(minutes=m))]
    assert burst == []  # during the warm-up


def test_a_burst_carries_score_momentum_samples_and_sources():
    detector = trends.TrendDetector(watch=["rappel produit"])
    moment = START
    for minute in range(0, 26 * 60, 30):  # a day of background
        detector.observe("café croissant", START + timedelta(minutes=minute))
    moment = START + timedelta(hours=26)
    bursts = []
    for second in range(0, 1800, 60):
        bursts += detector.observe("Rappel produit sur les biscuits",
                                   moment + timedelta(seconds=second), source="feed:example.org")
    watched = [b for b in bursts if b.term == "rappel produit"]
    assert len(watched) == 1, "one trend, not one per item"
    trend = watched[0]
    assert trend.score >= 4 and trend.count >= 5 and trend.momentum > 0
    assert trend.sources == ("feed:example.org",) and trend.samples


def test_observe_item_keeps_state_in_the_database_and_emits_trends(session):
    session.add(WatchTerm(agency_id="ag", brand_id="b1", kind="hashtag", term="soldes"))
    session.flush()
    events = []
    for minute in range(0, 25 * 60, 20):
        events += trends.observe_item(session, agency_id="ag", brand_id="b1", text="bonjour café",
                                      moment=START + timedelta(minutes=minute), source="mention:x")
    for second in range(0, 900, 60):
        events += trends.observe_item(session, agency_id="ag", brand_id="b1",
                                      text="C'est parti pour les #soldes",
                                      moment=START + timedelta(hours=25, seconds=second),
                                      source="signal:newsletter")
    session.flush()
    terms = [event.data.term for event in events]
    assert "#soldes" in terms and "café" not in terms
    event = next(e for e in events if e.data.term == "#soldes")
    assert isinstance(event.data, TrendDetected) and event.tenant == "ag"
    stored = session.scalars(select(Trend).where(Trend.term == "#soldes")).one()
    assert stored.watched and stored.sources == ["signal:newsletter"]
    assert session.scalars(select(TermStat).where(TermStat.term == "café")).one().mean > 0
