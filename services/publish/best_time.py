"""Best time to post: engagement rate by hour of week, shrunk toward a prior (empirical Bayes).

History: `metrics.observed` gives each published post's latest engagement; we keep one row
per post (`publish_engagement`) with its hour of week in the brand's local time (Monday
00:00 = 0 .. Sunday 23:00 = 167) and its rate: (likes + reposts + replies + quotes) /
impressions when the network reports impressions, else the raw count.

Estimate per hour of week h, with each post weighted by recency (half-life 90 days):

    prior_h    = account level × network shape_h      (shape: NETWORK_SHAPES, mean 1)
    estimate_h = (n_h × mean_h + k × prior_h) / (n_h + k)
    confidence = n_h / (n_h + k)                      (the share that comes from history)

`k` = within-slot variance / between-slot variance, estimated from the account's own data
(method of moments), so a noisy or thin history leans on the prior and a rich, clear one
speaks for itself. With no history the answer is the prior, with confidence 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.publish.models import EngagementObservation, ScheduledPost
from services.publish.scheduler import brand_zone, wall_clock_to_utc
from shared.events import Event, MetricsObserved

HOURS_OF_WEEK = 168
HALF_LIFE_DAYS = 90.0
DEFAULT_RATE = 0.03  # engagement per impression when an account has no history yet
LEVEL_PRIOR_WEIGHT = 3.0  # the account's level is itself shrunk toward DEFAULT_RATE
MIN_K, MAX_K = 0.5, 200.0
THIN_K = 25.0  # the prior's weight, in posts, when history is too thin to estimate it
WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}

# Audience rhythm by local hour (0..23): quiet at night, peaks late morning, lunch, evening.
_WEEKDAY_HOURS = (0.25, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.2, 1.35, 1.3, 1.35,
                  1.5, 1.4, 1.2, 1.15, 1.15, 1.25, 1.4, 1.45, 1.35, 1.1, 0.75, 0.45)
_WEEKEND_HOURS = (0.35, 0.25, 0.15, 0.1, 0.1, 0.15, 0.25, 0.45, 0.7, 0.95, 1.15, 1.25,
                  1.3, 1.25, 1.15, 1.1, 1.1, 1.15, 1.2, 1.25, 1.2, 1.05, 0.8, 0.55)
# Per network, how weekends compare with weekdays (business networks are quiet at weekends).
_WEEKEND_FACTOR = {"linkedin": 0.45, "x": 0.9, "instagram": 1.05, "facebook": 1.0}


def network_shape(network: str) -> list[float]:
    """The prior's shape over the 168 hours of the week for `network`, mean 1."""
    weekend = _WEEKEND_FACTOR.get(network, 0.95)
    raw = [(_WEEKDAY_HOURS[h % 24] if h < 120 else weekend * _WEEKEND_HOURS[h % 24])
           for h in range(HOURS_OF_WEEK)]
    mean = sum(raw) / HOURS_OF_WEEK
    return [value / mean for value in raw]


@dataclass(frozen=True)
class Observation:
    hour_of_week: int
    rate: float
    published_at: datetime


@dataclass(frozen=True)
class SlotEstimate:
    hour_of_week: int
    expected: float
    confidence: float
    history_weight: float  # recency-weighted number of posts in this hour
    prior: float

    @property
    def weekday(self) -> int:
        return self.hour_of_week // 24

    @property
    def hour(self) -> int:
        return self.hour_of_week % 24

    def label(self, language: str) -> str:
        return f"{WEEKDAYS[language][self.weekday]} {self.hour:02d}:00"


@dataclass(frozen=True)
class BestTimes:
    slots: list[SlotEstimate]  # every hour of the week, best first
    prior_strength: float  # k
    level: float
    observations: int


def hour_of_week(moment: datetime, zone: ZoneInfo) -> int:
    local = moment.astimezone(zone)
    return local.weekday() * 24 + local.hour


def estimate(history: Sequence[Observation], network: str, now: datetime,
             half_life_days: float = HALF_LIFE_DAYS) -> BestTimes:
    shape = network_shape(network)
    weights = [0.5 ** (max(0.0, (now - o.published_at).total_seconds()) / 86400 / half_life_days)
               for o in history]
    total = sum(weights)
    weighted = sum(w * o.rate for w, o in zip(weights, history, strict=True))
    own_level = weighted / total if total else 0.0
    level = (total * own_level + LEVEL_PRIOR_WEIGHT * DEFAULT_RATE) / (total + LEVEL_PRIOR_WEIGHT)
    n = [0.0] * HOURS_OF_WEEK
    sums = [0.0] * HOURS_OF_WEEK
    for w, o in zip(weights, history, strict=True):
        n[o.hour_of_week] += w
        sums[o.hour_of_week] += w * o.rate
    means = [sums[h] / n[h] if n[h] else 0.0 for h in range(HOURS_OF_WEEK)]
    prior = [level * shape[h] for h in range(HOURS_OF_WEEK)]
    k = prior_strength(history, weights, n, means, prior, level)
    slots = [
        SlotEstimate(hour_of_week=h, expected=(n[h] * means[h] + k * prior[h]) / (n[h] + k),
                     confidence=n[h] / (n[h] + k), history_weight=n[h], prior=prior[h])
        for h in range(HOURS_OF_WEEK)
    ]
    slots.sort(key=lambda slot: (-slot.expected, slot.hour_of_week))
    return BestTimes(slots=slots, prior_strength=k, level=level, observations=len(history))


def prior_strength(history: Sequence[Observation], weights: Sequence[float], n: Sequence[float],
                   means: Sequence[float], prior: Sequence[float], level: float) -> float:
    """k = within-hour variance / between-hour variance (method of moments)."""
    squares = sum(w * (o.rate - means[o.hour_of_week]) ** 2
                  for w, o in zip(weights, history, strict=True))
    repeated = sum(value for value in n if value > 0)
    filled = [h for h in range(HOURS_OF_WEEK) if n[h] > 0]
    within = squares / max(repeated - len(filled), 1e-9) if repeated > len(filled) + 1 else 0.0
    if within <= 0:
        within = (0.5 * level) ** 2  # a typical spread of engagement between posts
    if len(filled) < 3:
        return THIN_K  # too few hours to tell signal from noise: lean on the prior
    # DerSimonian-Laird: weigh each hour by the precision of its mean, so hours seen once or
    # twice do not drown the signal of the hours seen often.
    precision = [n[h] / within for h in filled]
    q = sum(p * (means[h] - prior[h]) ** 2 for p, h in zip(precision, filled, strict=True))
    total = sum(precision)
    scale = total - sum(p * p for p in precision) / total
    between = max((q - len(filled)) / scale if scale > 0 else 0.0, (0.05 * level) ** 2)
    return min(MAX_K, max(MIN_K, within / between))


def next_start(slot: SlotEstimate, zone: ZoneInfo, now: datetime) -> datetime:
    """The next time (UTC) this hour of the week starts, in the brand's local time."""
    today = now.astimezone(zone).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if day.weekday() == slot.weekday:
            instant, _ = wall_clock_to_utc(datetime.combine(day, time(slot.hour)), zone)
            if instant > now:
                return instant
    raise AssertionError("a weekday comes back within 8 days")


# --- storage ----------------------------------------------------------------------------


def account_history(session: Session, account_id: str, agency_id: str) -> list[Observation]:
    rows = session.execute(
        select(EngagementObservation.hour_of_week, EngagementObservation.rate,
               EngagementObservation.published_at)
        .where(EngagementObservation.agency_id == agency_id,
               EngagementObservation.account_id == account_id)
    ).all()
    return [Observation(hour_of_week=h, rate=r, published_at=p) for h, r, p in rows]


def best_times_for(session: Session, account_id: str, agency_id: str, network: str,
                   now: datetime) -> BestTimes:
    return estimate(account_history(session, account_id, agency_id), network, now)


def engagement_rate(payload: MetricsObserved) -> tuple[int, float]:
    engaged = payload.likes + payload.reposts + payload.replies + payload.quotes
    if payload.impressions:
        return engaged, engaged / payload.impressions
    return engaged, float(engaged)


def on_metrics_observed(event: Event, session: Session) -> list[Event]:
    """Keep the latest engagement of each published post, binned by local hour of week."""
    payload = event.data
    assert isinstance(payload, MetricsObserved)
    published_at = payload.published_at
    if published_at is None and payload.post_id:
        post = session.get(ScheduledPost, payload.post_id)
        if post is not None and post.agency_id == event.tenant:
            published_at = post.published_at
    if published_at is None:
        return []  # cannot be binned; the next observation usually carries it
    engaged, rate = engagement_rate(payload)
    if math.isnan(rate):
        return []
    zone = brand_zone(session, payload.brand_id, event.tenant)
    row = session.scalars(select(EngagementObservation).where(
        EngagementObservation.account_id == payload.account_id,
        EngagementObservation.external_id == payload.external_id)).first()
    if row is None:
        row = EngagementObservation(agency_id=event.tenant, account_id=payload.account_id,
                                    network=payload.network, external_id=payload.external_id,
                                    published_at=published_at, hour_of_week=0,
                                    observed_at=payload.observed_at)
        session.add(row)
    elif row.observed_at > payload.observed_at:
        return []  # an older observation, delivered late
    row.published_at = published_at
    row.hour_of_week = hour_of_week(published_at, zone)
    row.engagement, row.impressions, row.rate = engaged, payload.impressions, rate
    row.observed_at = payload.observed_at
    return []
