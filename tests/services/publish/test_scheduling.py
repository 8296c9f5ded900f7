"""posts.approved -> a time: fixed (in the brand's zone, across DST), queue slots, spacing,
daily caps, best time; posts.scheduled is emitted with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.publish.models import EngagementObservation, ScheduledPost
from services.publish.scheduler import AccountRules, QueueSlot, slot_occurrences, wall_clock_to_utc
from shared.db import transaction
from shared.events import PostApproved, PostScheduled
from tests.services.publish.conftest import Harness

PARIS = ZoneInfo("Europe/Paris")


def approve(harness: Harness, post_id: str, network: str = "fake", **fields) -> datetime:
    events = harness.handle(harness.event(PostApproved(
        brand_id=harness.brand_id, post_id=post_id, account_id=harness.accounts[network],
        network=network, text=f"Bonjour {post_id}", **fields)))
    scheduled = [e.data for e in events if isinstance(e.data, PostScheduled)]
    assert len(scheduled) == 1 and scheduled[0].post_id == post_id
    return scheduled[0].publish_at


def note_of(harness: Harness, post_id: str) -> str:
    with harness.session() as session:
        return session.get(ScheduledPost, post_id).schedule_note


# --- fixed times across DST ------------------------------------------------------------------


def test_a_fixed_local_time_in_paris_keeps_its_wall_clock_across_the_march_change(harness):
    harness.clock.now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    before = approve(harness, "p1", publish_at=datetime(2026, 3, 28, 9, 0))  # naive: Paris time
    after = approve(harness, "p2", publish_at=datetime(2026, 3, 30, 9, 0))
    assert before == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # CET, UTC+1
    assert after == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert after.astimezone(PARIS).hour == before.astimezone(PARIS).hour == 9


def test_a_fixed_local_time_in_paris_keeps_its_wall_clock_across_the_october_change(harness):
    harness.clock.now = datetime(2026, 10, 20, 12, tzinfo=UTC)
    before = approve(harness, "p1", publish_at=datetime(2026, 10, 24, 9, 0))
    after = approve(harness, "p2", publish_at=datetime(2026, 10, 26, 9, 0))
    assert before == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)
    assert after == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_a_nonexistent_local_time_moves_forward_by_the_gap_and_says_so(harness):
    harness.clock.now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    at = approve(harness, "p1", publish_at=datetime(2026, 3, 29, 2, 30))
    assert at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert "does not exist" in note_of(harness, "p1")


def test_a_time_with_an_offset_is_taken_as_that_instant(harness):
    harness.clock.now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    montreal = ZoneInfo("America/Montreal")
    at = approve(harness, "p1", publish_at=datetime(2026, 3, 30, 9, 0, tzinfo=montreal))
    assert at == datetime(2026, 3, 30, 13, 0, tzinfo=UTC)


def test_a_time_in_the_past_is_published_as_soon_as_possible(harness):
    at = approve(harness, "p1", publish_at=harness.clock.now - timedelta(hours=3))
    assert at == harness.clock.now


# --- queues -----------------------------------------------------------------------------------


def test_a_queue_slot_at_0230_on_the_spring_forward_night_happens_once_at_0330():
    sunday_0230 = (QueueSlot(weekday=6, at=datetime(2000, 1, 1, 2, 30).time()),)
    start = datetime(2026, 3, 27, tzinfo=UTC)
    first, second = list(slot_occurrences(sunday_0230, PARIS, start, weeks=2))[:2]
    assert first[0] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST: moved by the gap
    assert first[0].astimezone(PARIS).strftime("%H:%M") == "03:30"
    assert "does not exist" in first[1]
    assert second[0] == datetime(2026, 4, 5, 0, 30, tzinfo=UTC)  # back to 02:30 the next week
    assert second[1] == ""


def test_a_queue_slot_at_0230_on_the_fall_back_night_happens_once_at_its_first_occurrence():
    sunday_0230 = (QueueSlot(weekday=6, at=datetime(2000, 1, 1, 2, 30).time()),)
    start = datetime(2026, 10, 24, tzinfo=UTC)
    occurrences = [at for at, _ in slot_occurrences(sunday_0230, PARIS, start, weeks=2)][:2]
    assert occurrences == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST, not also CET
                           datetime(2026, 11, 1, 1, 30, tzinfo=UTC)]


def test_queued_posts_fill_the_weekly_slots_in_order_at_the_same_local_time_across_dst(harness):
    harness.clock.now = datetime(2026, 3, 20, 12, tzinfo=UTC)  # a Friday
    account = harness.add_account("fake", "queued", min_spacing_minutes=30, queue_slots=[
        {"weekday": 0, "time": "09:00"}, {"weekday": 2, "time": "18:30"}])
    harness.accounts["fake"] = account
    times = [approve(harness, f"q{i}", queue=True) for i in range(4)]
    assert [t.astimezone(PARIS).strftime("%a %d %H:%M") for t in times] == [
        "Mon 23 09:00", "Wed 25 18:30", "Mon 30 09:00", "Wed 01 18:30"]
    assert times[0] == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # CET
    assert times[2] == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # CEST


def test_a_queue_slot_on_the_spring_forward_night_through_the_handler(harness):
    harness.clock.now = datetime(2026, 3, 27, 12, tzinfo=UTC)
    harness.accounts["fake"] = harness.add_account(
        "fake", "night-owl", queue_slots=[{"weekday": 6, "time": "02:30"}])
    at = approve(harness, "q1", queue=True)
    assert at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert "does not exist" in note_of(harness, "q1")


def test_wall_clock_to_utc_is_the_identity_on_ordinary_days():
    instant, note = wall_clock_to_utc(datetime(2026, 6, 1, 9, 0), PARIS)
    assert (instant, note) == (datetime(2026, 6, 1, 7, 0, tzinfo=UTC), "")


# --- spacing and caps -----------------------------------------------------------------------------


def test_two_posts_at_the_same_time_are_spaced_by_the_accounts_minimum(harness):
    harness.accounts["fake"] = harness.add_account("fake", "spaced", min_spacing_minutes=60)
    wanted = harness.clock.now + timedelta(hours=2)
    first = approve(harness, "p1", publish_at=wanted)
    second = approve(harness, "p2", publish_at=wanted + timedelta(minutes=10))
    assert first == wanted
    assert second == wanted + timedelta(minutes=60)
    assert "spacing" in note_of(harness, "p2")


def test_the_instagram_daily_cap_moves_the_extra_post_past_the_rolling_24_hours(harness):
    harness.accounts["fake"] = harness.add_account("fake", "capped", min_spacing_minutes=0,
                                                   daily_cap=2)
    start = harness.clock.now + timedelta(hours=1)
    times = [approve(harness, f"p{i}", publish_at=start + timedelta(hours=i)) for i in range(3)]
    assert times[:2] == [start, start + timedelta(hours=1)]
    assert times[2] == start + timedelta(hours=24)  # when the first leaves the window


def test_instagram_has_a_daily_cap_by_default_and_an_account_may_override_it():
    assert AccountRules.of(None, "instagram").daily_cap == 50
    assert AccountRules.of(None, "mastodon").daily_cap is None


# --- best time ------------------------------------------------------------------------------------


def test_best_time_picks_the_next_occurrence_of_the_accounts_best_hour(harness):
    account = harness.accounts["fake"]
    with transaction(harness.factory) as session:
        # Two years of Tuesday 14:00 posts doing far better than anything else.
        for week in range(60):
            for how, rate in ((1 * 24 + 14, 0.20), (3 * 24 + 9, 0.02), (4 * 24 + 18, 0.03)):
                session.add(EngagementObservation(
                    agency_id=harness.agency_id, account_id=account, network="fake",
                    external_id=f"x{week}-{how}", hour_of_week=how, rate=rate, engagement=1,
                    published_at=harness.clock.now - timedelta(weeks=week + 1)))
    at = approve(harness, "p1", best_time=True)
    assert at.astimezone(PARIS).strftime("%a %H:%M") == "Tue 14:00"
    assert timedelta(0) < at - harness.clock.now <= timedelta(days=7)


# --- re-approval -------------------------------------------------------------------------------


def test_approval_again_after_a_failure_keeps_the_key_unless_the_content_changed(harness):
    approve(harness, "p1")
    with transaction(harness.factory) as session:
        session.get(ScheduledPost, "p1").status = "failed"
    approve(harness, "p1")
    with harness.session() as session:
        assert session.get(ScheduledPost, "p1").idempotency_key().endswith("-g1")
    with transaction(harness.factory) as session:
        session.get(ScheduledPost, "p1").status = "failed"
    harness.handle(harness.event(PostApproved(
        brand_id=harness.brand_id, post_id="p1", account_id=harness.accounts["fake"],
        network="fake", text="Texte corrigé")))
    with harness.session() as session:
        assert session.get(ScheduledPost, "p1").idempotency_key().endswith("-g2")


# --- a person cancels in review ---------------------------------------------------------------


def test_a_post_cancelled_in_review_leaves_the_schedule_and_a_published_one_stays(harness):
    from services.publish.models import CANCELLED, PUBLISHED
    from shared.events import PostTransitioned

    harness.clock.now = datetime(2026, 6, 1, 8, tzinfo=UTC)
    approve(harness, "keep", publish_at=datetime(2026, 6, 2, 9, 0))
    approve(harness, "drop", publish_at=datetime(2026, 6, 2, 10, 0))
    approve(harness, "gone", publish_at=datetime(2026, 6, 2, 11, 0))
    with transaction(harness.factory) as session:
        session.get(ScheduledPost, "gone").status = PUBLISHED
    for post_id in ("drop", "gone"):
        harness.handle(harness.event(PostTransitioned(
            brand_id=harness.brand_id, post_id=post_id, from_state="scheduled",
            to_state="cancelled", actor="user:claire")))
    with harness.session() as session:
        states = {p: session.get(ScheduledPost, p).status for p in ("keep", "drop", "gone")}
    assert states == {"keep": "scheduled", "drop": CANCELLED, "gone": PUBLISHED}
