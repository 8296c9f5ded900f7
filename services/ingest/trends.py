"""Trend watch: terms whose volume bursts above their own baseline.

Terms come from every item a brand sees (mentions, feed items, signals): its watch-list
(keywords and competitor names matched as phrases, hashtags) and open discovery (every
hashtag and content word of three letters or more, stopwords removed).

Burst detection, per (brand, term), in event time:
- time is cut into slots (10 minutes); the window is the last `window_slots` slots (an hour),
  sliding one slot at a time, so a burst is seen while it grows, not at the end of an hour;
- the baseline is an exponentially weighted mean and variance of the term's window counts,
  updated each time a slot closes (EWMA, alpha 0.05: a memory of a few hours, so a daily
  rhythm is followed); while a term is bursting it learns 5× slower, so a long burst is not
  absorbed into its own baseline;
- score = z = (count - mean) / sqrt(max(variance, mean) + 1): the `max` floors the variance
  at Poisson's (a count's variance is at least its mean) and the `+1` keeps a brand-new term
  (mean 0) from scoring infinity; a term is trending when z >= 4 and its window holds at least
  5 items, at most once per two hours per term;
- no trend during a brand's first day (every term is new then);
- momentum = growth of the newer half-window over the older one (+1.0 = doubled).

`TrendDetector` holds this logic on plain dataclasses (the synthetic-stream tests and the
benchmark drive it directly); `observe_item` applies it to the database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.ingest import text as words
from services.ingest.models import TermStat, Trend, TrendBrand, WatchTerm
from shared.events import Event, TrendDetected, new_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrendConfig:
    slot_minutes: int = 10
    window_slots: int = 6
    alpha: float = 0.05
    z_threshold: float = 4.0
    min_count: int = 5
    realert_slots: int = 12
    warmup_slots: int = 144
    max_samples: int = 5

    @property
    def window_minutes(self) -> int:
        return self.slot_minutes * self.window_slots


def slot_of(moment: datetime, config: TrendConfig) -> int:
    return int(moment.timestamp() // (config.slot_minutes * 60))


@dataclass
class TermState:
    slot: int
    ring: list[int]
    mean: float = 0.0
    var: float = 0.0
    last_alert_slot: int | None = None
    bursting: bool = False
    samples: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, slot: int, config: TrendConfig) -> TermState:
        return cls(slot=slot, ring=[0] * config.window_slots)

    @classmethod
    def load(cls, raw: dict[str, Any]) -> TermState:
        return cls(**raw)


@dataclass(frozen=True)
class Burst:
    term: str
    slot: int
    count: int
    baseline: float
    score: float
    momentum: float
    samples: tuple[str, ...]
    sources: tuple[str, ...]


def _ewma(mean: float, var: float, value: float, alpha: float) -> tuple[float, float]:
    """Exponentially weighted mean and variance (Finch 2009, incremental form)."""
    diff = value - mean
    increment = alpha * diff
    return mean + increment, (1 - alpha) * (var + diff * increment)


def advance(state: TermState, slot: int, config: TrendConfig) -> None:
    """Close every slot up to `slot`: each closed window feeds the baseline, then slides."""
    steps = slot - state.slot
    if steps <= 0:
        return
    for _ in range(min(steps, config.window_slots + 400)):
        alpha = config.alpha / 5 if state.bursting else config.alpha
        state.mean, state.var = _ewma(state.mean, state.var, sum(state.ring), alpha)
        state.ring = state.ring[1:] + [0]
        state.bursting = False  # only the slot it was seen in learns slowly
    state.slot = slot


def z_score(count: int, mean: float, var: float) -> float:
    return (count - mean) / (max(var, mean) + 1.0) ** 0.5


def momentum_of(ring: list[int]) -> float:
    half = len(ring) // 2
    older, newer = sum(ring[:half]), sum(ring[half:])
    return round((newer - older) / max(1, older), 2)


def observe(state: TermState, term: str, slot: int, config: TrendConfig, *, sample: str = "",
            source: str = "", alerts_open: bool = True) -> Burst | None:
    """Count one item in `slot`; a `Burst` when the term just started trending."""
    if slot < state.slot - config.window_slots + 1:
        return None  # older than the window: too late to count
    advance(state, slot, config)
    state.ring[len(state.ring) - 1 - (state.slot - slot)] += 1
    if sample:
        state.samples = (state.samples + [sample[:280]])[-config.max_samples:]
    if source and source not in state.sources:
        state.sources = (state.sources + [source])[-config.max_samples:]
    count = sum(state.ring)
    score = z_score(count, state.mean, state.var)
    state.bursting = count >= config.min_count and score >= config.z_threshold
    recently = (state.last_alert_slot is not None
                and slot - state.last_alert_slot < config.realert_slots)
    if not (state.bursting and alerts_open and not recently):
        return None
    state.last_alert_slot = slot
    return Burst(term=term, slot=slot, count=count, baseline=round(state.mean, 2),
                 score=round(score, 2), momentum=momentum_of(state.ring),
                 samples=tuple(state.samples), sources=tuple(state.sources))


class TrendDetector:
    """In-memory trend watch for one brand (tests, benchmark)."""

    def __init__(self, config: TrendConfig | None = None, watch: Sequence[str] = ()) -> None:
        self.config = config or TrendConfig()
        self.watch = [term.lower() for term in watch]
        self.terms: dict[str, TermState] = {}
        self.first_slot: int | None = None

    def observe(self, text: str, moment: datetime, source: str = "") -> list[Burst]:
        slot = slot_of(moment, self.config)
        if self.first_slot is None:
            self.first_slot = slot
        open_ = slot - self.first_slot >= self.config.warmup_slots
        bursts = []
        for term in item_terms(text, self.watch):
            state = self.terms.setdefault(term, TermState.new(slot, self.config))
            burst = observe(state, term, slot, self.config, sample=text, source=source,
                            alerts_open=open_)
            if burst:
                bursts.append(burst)
        return bursts


def item_terms(text: str, watch: list[str]) -> list[str]:
    lowered = " ".join(words.tokens(text))
    found = [term for term in watch if _contains(lowered, term)]
    return list(dict.fromkeys(found + words.terms(text)))


def _contains(lowered_tokens: str, term: str) -> bool:
    needle = " ".join(words.tokens(term))
    return bool(needle) and f" {needle} " in f" {lowered_tokens} "


# --- the database ---------------------------------------------------------------------


def watch_terms(session: Session, agency_id: str, brand_id: str) -> list[str]:
    rows = session.scalars(select(WatchTerm).where(
        WatchTerm.agency_id == agency_id, WatchTerm.brand_id == brand_id))
    return [f"#{row.term.lstrip('#')}" if row.kind == "hashtag" else row.term for row in rows]


def observe_item(
    session: Session, *, agency_id: str, brand_id: str, text: str, moment: datetime,
    source: str, config: TrendConfig | None = None, origin: str = "ingest",
) -> list[Event]:
    """Count one item (mention, feed item, signal) for the brand's terms; the trends it starts."""
    config = config or TrendConfig()
    slot = slot_of(moment, config)
    watched = [term.lower() for term in watch_terms(session, agency_id, brand_id)]
    terms = item_terms(text, watched)
    if not terms:
        return []
    brand = session.get(TrendBrand, brand_id)
    if brand is None:
        brand = TrendBrand(agency_id=agency_id, brand_id=brand_id, first_slot=slot)
        session.add(brand)
    alerts_open = slot - brand.first_slot >= config.warmup_slots
    rows = {row.term: row for row in session.scalars(select(TermStat).where(
        TermStat.brand_id == brand_id, TermStat.term.in_(terms)))}
    events: list[Event] = []
    for term in terms:
        row = rows.get(term)
        state = TermState.load(row.state) if row else TermState.new(slot, config)
        burst = observe(state, term, slot, config, sample=text, source=source,
                        alerts_open=alerts_open)
        if row is None:
            row = TermStat(agency_id=agency_id, brand_id=brand_id, term=term)
            session.add(row)
        row.state, row.slot, row.mean = asdict(state), state.slot, state.mean
        if burst is not None:
            events.append(_record(session, agency_id, brand_id, burst, term in watched, config,
                                  origin))
    return events


def _record(session: Session, agency_id: str, brand_id: str, burst: Burst, watched: bool,
            config: TrendConfig, origin: str) -> Event:
    session.add(Trend(
        agency_id=agency_id, brand_id=brand_id, term=burst.term, watched=watched,
        score=burst.score, momentum=burst.momentum, count=burst.count, baseline=burst.baseline,
        samples=list(burst.samples), sources=list(burst.sources),
        window_minutes=config.window_minutes,
    ))
    log.info("trend detected", extra={"brand_id": brand_id, "term": burst.term,
                                      "score": burst.score})
    return new_event(TrendDetected(
        brand_id=brand_id, term=burst.term, score=burst.score, momentum=burst.momentum,
        samples=list(burst.samples), sources=list(burst.sources),
        window_minutes=config.window_minutes,
    ), tenant=agency_id, source=origin)


def forget_quiet_terms(session: Session, before_slot: int, below_mean: float = 0.05) -> int:
    """Open discovery keeps a row per term ever seen: drop those long quiet."""
    result = session.execute(delete(TermStat).where(
        TermStat.slot < before_slot, TermStat.mean < below_mean))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
