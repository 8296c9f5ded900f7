"""When a post goes out, and which posts are due now.

Times: a fixed time with an offset is an instant; a naive one is wall-clock time in the
brand's timezone (`Brand.timezone`). Queue slots are wall-clock times every week, so a
Monday 09:00 slot stays at 09:00 local across DST changes. A wall-clock time that does not
exist (02:30 on the spring-forward night in Paris) moves forward by the gap (03:30); one that
happens twice (02:30 on the autumn night) is taken at its first occurrence, once.

Per account (from `SocialAccount.settings`, written by the api): `min_spacing_minutes`
between two posts, `daily_cap` posts in any rolling 24 h (default per network, e.g.
Instagram's publishing quota), and `queue_slots` [{"weekday": 0..6 (Monday 0), "time": "HH:MM"}].

The due-post scan claims rows so that several scheduler replicas never send a post twice:
`FOR UPDATE SKIP LOCKED` on PostgreSQL, an atomic conditional UPDATE on SQLite.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.publish.models import (
    CANCELLED,
    DUE,
    FAILED,
    PUBLISHING,
    SCHEDULED,
    ScheduledPost,
)
from shared.events import Event, PostDue, new_event
from shared.models import Brand, SocialAccount

DEFAULT_SPACING_MINUTES = 5
# Posts per rolling 24 h that the network's API accepts for one account (reference/networks.md).
NETWORK_DAILY_CAPS: dict[str, int] = {"instagram": 50, "threads": 250}
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
QUEUE_HORIZON_WEEKS = 26
BEST_TIME_LEAD = timedelta(minutes=5)
STALE_CLAIM = timedelta(hours=1)  # well past any Kafka backlog of due posts


# --- time zones ---------------------------------------------------------------------------


def zone_named(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def brand_zone(session: Session, brand_id: str, agency_id: str) -> ZoneInfo:
    brand = session.get(Brand, brand_id)
    if brand is None or brand.agency_id != agency_id:
        return zone_named("Europe/Paris")  # the Brand model's default
    return zone_named(brand.timezone)


def wall_clock_to_utc(local: datetime, zone: ZoneInfo) -> tuple[datetime, str]:
    """A naive local time in `zone` as a UTC instant, and a note when it had to move."""
    aware = local.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    back = instant.astimezone(zone).replace(tzinfo=None)
    if back != local.replace(tzinfo=None):
        # fold=0 in a gap uses the offset before the change: the time moves forward by the gap.
        return instant, (f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks change); "
                         f"moved to {back:%H:%M}")
    return instant, ""


def to_utc(moment: datetime, zone: ZoneInfo) -> tuple[datetime, str]:
    if moment.tzinfo is None:
        return wall_clock_to_utc(moment, zone)
    return moment.astimezone(UTC), ""


# --- account rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueSlot:
    weekday: int  # Monday 0 .. Sunday 6
    at: time

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> QueueSlot:
        hours, minutes = str(raw["time"]).split(":")[:2]
        weekday = int(raw["weekday"])
        if not 0 <= weekday <= 6:
            raise ValueError(f"weekday {weekday} is not 0 (Monday) .. 6 (Sunday)")
        return cls(weekday=weekday, at=time(int(hours), int(minutes)))


@dataclass(frozen=True)
class AccountRules:
    min_spacing: timedelta = timedelta(minutes=DEFAULT_SPACING_MINUTES)
    daily_cap: int | None = None
    queue_slots: tuple[QueueSlot, ...] = ()

    @classmethod
    def of(cls, account: SocialAccount | None, network: str) -> AccountRules:
        settings = (account.settings if account is not None else None) or {}
        spacing = settings.get("min_spacing_minutes", DEFAULT_SPACING_MINUTES)
        cap = settings.get("daily_cap", NETWORK_DAILY_CAPS.get(network))
        slots = tuple(QueueSlot.parse(raw) for raw in settings.get("queue_slots", []))
        return cls(min_spacing=timedelta(minutes=float(spacing)),
                   daily_cap=int(cap) if cap is not None else None, queue_slots=slots)


def account_of(session: Session, account_id: str, agency_id: str) -> SocialAccount | None:
    account = session.get(SocialAccount, account_id)
    return account if account is not None and account.agency_id == agency_id else None


# --- fitting a time between the account's other posts ------------------------------------


def taken_times(session: Session, account_id: str, around: datetime,
                exclude_post: str | None = None) -> list[datetime]:
    """The account's other posts that are (or will be) on the network, sorted."""
    rows = session.scalars(
        select(ScheduledPost.publish_at).where(
            ScheduledPost.account_id == account_id,
            ScheduledPost.status.not_in((FAILED, CANCELLED)),
            ScheduledPost.publish_at >= around - DAY,
            ScheduledPost.id != (exclude_post or ""),
        )
    ).all()
    return sorted(rows)


def conflict(candidate: datetime, taken: Sequence[datetime],
             rules: AccountRules) -> datetime | None:
    """The earliest time after `candidate` that might fit, or None when `candidate` fits."""
    spacing = rules.min_spacing
    if spacing > timedelta(0):
        index = bisect.bisect_right(taken, candidate - spacing)
        if index < len(taken) and taken[index] < candidate + spacing:
            return taken[index] + spacing
    if rules.daily_cap is not None:
        # Every rolling 24 h window that holds `candidate` must keep at most `daily_cap` posts.
        low = bisect.bisect_right(taken, candidate - DAY)
        high = bisect.bisect_right(taken, candidate + DAY)
        window = sorted([*taken[low:high], candidate])
        for start in range(len(window)):
            if window[start] > candidate:
                break
            end = bisect.bisect_left(window, window[start] + DAY)
            if end - start > rules.daily_cap:
                return window[start] + DAY
    return None


def fit(candidate: datetime, taken: Sequence[datetime], rules: AccountRules) -> datetime:
    """The earliest time at or after `candidate` that respects spacing and the daily cap."""
    for _ in range(10_000):
        later = conflict(candidate, taken, rules)
        if later is None:
            return candidate
        candidate = later
    raise RuntimeError("no time fits the account's spacing and daily cap")


# --- queues -------------------------------------------------------------------------------


def slot_occurrences(slots: Sequence[QueueSlot], zone: ZoneInfo, after: datetime,
                     weeks: int = QUEUE_HORIZON_WEEKS) -> Iterator[tuple[datetime, str]]:
    """Each slot's instants strictly after `after`, in order, with a note when DST moved one."""
    first_day = after.astimezone(zone).date()
    for offset in range(weeks * 7 + 1):
        day = first_day + timedelta(days=offset)
        for slot in sorted((s for s in slots if s.weekday == day.weekday()), key=lambda s: s.at):
            instant, note = wall_clock_to_utc(datetime.combine(day, slot.at), zone)
            if instant > after:
                yield instant, note


def last_queued(session: Session, account_id: str, exclude_post: str = "") -> datetime | None:
    """The latest queued post of the account: the next one goes after it (queues keep order)."""
    return session.scalar(
        select(ScheduledPost.publish_at)
        .where(ScheduledPost.account_id == account_id, ScheduledPost.mode == "queue",
               ScheduledPost.status.not_in((FAILED, CANCELLED)), ScheduledPost.id != exclude_post)
        .order_by(ScheduledPost.publish_at.desc()).limit(1)
    )


def next_queue_time(slots: Sequence[QueueSlot], zone: ZoneInfo, after: datetime,
                    taken: Sequence[datetime], rules: AccountRules) -> tuple[datetime, str] | None:
    for instant, note in slot_occurrences(slots, zone, after):
        if conflict(instant, taken, rules) is None:
            return instant, note
    return None


# --- best time ------------------------------------------------------------------------------


def hour_of_week_start(day: date, hour: int, zone: ZoneInfo) -> tuple[datetime, str]:
    return wall_clock_to_utc(datetime.combine(day, time(hour)), zone)


def next_best_time(ranked_hours: Sequence[int], zone: ZoneInfo, now: datetime,
                   taken: Sequence[datetime], rules: AccountRules) -> tuple[datetime, str]:
    """The best-ranked hour of the week whose next start (within 7 days) fits as it is."""
    earliest = now + BEST_TIME_LEAD
    first_day = earliest.astimezone(zone).date()
    starts: dict[int, tuple[datetime, str]] = {}
    for offset in range(8):
        day = first_day + timedelta(days=offset)
        for hour in range(24):
            instant, note = hour_of_week_start(day, hour, zone)
            how = day.weekday() * 24 + hour
            if instant >= earliest and how not in starts:
                starts[how] = (instant, note)
    for how in ranked_hours:
        if how in starts and conflict(starts[how][0], taken, rules) is None:
            return starts[how]
    instant, note = starts[ranked_hours[0]] if ranked_hours else (earliest, "")
    return fit(instant, taken, rules), note


# --- due posts ------------------------------------------------------------------------------


def claim_due_posts(session: Session, now: datetime, limit: int = 500) -> list[Event]:
    """Mark up to `limit` due posts as claimed and return their PostDue events; the caller
    stages them in the same transaction, so a claimed row and its event commit together."""
    due = (
        select(ScheduledPost.id)
        .where(ScheduledPost.status == SCHEDULED, ScheduledPost.publish_at <= now)
        .order_by(ScheduledPost.publish_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.id.in_(due.scalar_subquery()), ScheduledPost.status == SCHEDULED)
        .values(status=DUE, claimed_at=now)
        .returning(ScheduledPost.id, ScheduledPost.agency_id, ScheduledPost.brand_id,
                   ScheduledPost.account_id, ScheduledPost.publish_at)
        .execution_options(synchronize_session=False)
    ).all()
    return due_events(sorted(claimed, key=lambda row: row.publish_at))


def reclaim_stale(session: Session, now: datetime,
                  stale_after: timedelta = STALE_CLAIM) -> list[Event]:
    """Posts claimed long ago and still not settled (their PostDue went to the dead-letter
    topic, say): send them again. A repeat is harmless: PostDue is keyed by account, so the
    handler sees the post's state after the first one, and attempt numbers are unique."""
    query = select(ScheduledPost.id).where(
        ScheduledPost.status.in_((DUE, PUBLISHING)), ScheduledPost.claimed_at < now - stale_after)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.id.in_(query.limit(100).scalar_subquery()),
               ScheduledPost.claimed_at < now - stale_after)
        .values(claimed_at=now)
        .returning(ScheduledPost.id, ScheduledPost.agency_id, ScheduledPost.brand_id,
                   ScheduledPost.account_id, ScheduledPost.publish_at)
        .execution_options(synchronize_session=False)
    ).all()
    return due_events(claimed)


def due_events(claimed: Sequence[Any]) -> list[Event]:
    return [
        new_event(PostDue(brand_id=row.brand_id, post_id=row.id, account_id=row.account_id,
                          due_at=row.publish_at), tenant=row.agency_id, source="publish")
        for row in claimed
    ]
