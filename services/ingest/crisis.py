"""Crisis detection per brand: negative mentions above the brand's own baseline.

Every mention of a brand goes through its detector, in event time (the mention's date):
- 10-minute slots; the window is the last hour (6 slots), sliding a slot at a time;
- baselines, learnt as each slot closes and frozen while an alert is raised: an EWMA mean
  and variance of the window's negative count, and an EWMA of the negative share;
- pressure = max(volume, share) + triggers, where
  volume = z / 5 with z = (negatives - mean) / sqrt(max(var, mean) + 1) (Poisson floor),
  share = z_share / 5 with z_share the binomial z-score of the window's negatives against the
  usual negative share (counted when the window holds 10+ mentions), both only when the
  window holds at least 10 negative mentions (a handful of unhappy customers at 3 a.m. is not
  a crisis), and triggers = 0.35 per mention carrying a trigger term ("boycott", "scandale",
  "intoxication", "rappel produit", "lawsuit"... in `lexicons/crisis_triggers.txt`) that is
  itself negative or comes with 3+ negatives in the window. The bar (5σ, 10 negatives) was set
  on synthetic quiet weeks with a daily rhythm (tests/services/ingest/test_crisis.py): at 4σ
  and 6 negatives, ordinary evening peaks raised alerts;
- hysteresis: an alert is raised when pressure >= 1.0 and cleared only after the pressure
  stayed below 0.5 for a whole window (6 slot closes in a row); after a clear, no new alert
  for 3 hours (cool-down). No alert during the brand's first day, except on trigger terms.
- severity = min(1, pressure / 2.5), the peak kept on the alert;
- evidence: up to 5 sample negative mentions and the curve of the last 4 hours, one point per
  slot: {t, volume, negative_share}.

`CrisisDetector` is the pure logic (tests, benchmark); `observe_mention` keeps its state in
`ingest_crisis_states` and records alerts in `ingest_crisis_alerts`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from services.ingest import text as words
from services.ingest.models import CrisisAlert, CrisisState
from services.ingest.trends import _ewma, z_score
from shared.db import new_id
from shared.events import CrisisAlerted, Event, new_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrisisConfig:
    slot_minutes: int = 10
    window_slots: int = 6
    alpha: float = 0.03
    min_negative: int = 10
    min_total_for_share: int = 10
    z_scale: float = 5.0
    trigger_weight: float = 0.35
    high: float = 1.0
    low: float = 0.5
    cooldown_slots: int = 18
    warmup_slots: int = 144
    curve_slots: int = 24
    max_samples: int = 5


@dataclass
class DetectorState:
    slot: int
    first_slot: int
    total: list[int]
    negative: list[int]
    triggers: list[int]
    mean_negative: float = 0.0
    var_negative: float = 0.0
    mean_share: float = 0.15
    raised: bool = False
    calm_slots: int = 0
    cleared_slot: int | None = None
    peak: float = 0.0
    curve: list[dict[str, Any]] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    trigger_terms: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, slot: int, config: CrisisConfig) -> DetectorState:
        zeros = [0] * config.window_slots
        return cls(slot=slot, first_slot=slot, total=list(zeros), negative=list(zeros),
                   triggers=list(zeros))


@dataclass(frozen=True)
class Pressure:
    value: float
    negatives: int
    total: int
    share: float
    z: float

    def reason(self, state: DetectorState) -> str:
        usual = state.mean_negative
        parts_en = [f"{self.negatives} negative mentions in the last hour (usually {usual:.1f})",
                    f"negative share {self.share:.0%} (usually {state.mean_share:.0%})"]
        parts_fr = [f"{self.negatives} mentions négatives dans l'heure (d'habitude {usual:.1f})",
                    f"part négative {self.share:.0%} (d'habitude {state.mean_share:.0%})"]
        if state.trigger_terms:
            terms = ", ".join(state.trigger_terms)
            parts_en.append(f"trigger terms: {terms}")
            parts_fr.append(f"termes d'alerte : {terms}")
        return "; ".join(parts_en) + " / " + "; ".join(parts_fr)


@dataclass(frozen=True)
class Decision:
    action: str  # raise, clear
    severity: float
    reason: str
    pressure: Pressure
    curve: list[dict[str, Any]]
    samples: list[str]


def slot_of(moment: datetime, config: CrisisConfig) -> int:
    return int(moment.timestamp() // (config.slot_minutes * 60))


def triggers_in(text: str) -> list[str]:
    lowered = f" {' '.join(words.tokens(text))} "
    return [term for term in trigger_terms() if f" {' '.join(words.tokens(term))} " in lowered
            or f" #{term.replace(' ', '')} " in lowered]


@lru_cache
def trigger_terms() -> tuple[str, ...]:
    return tuple(words.lines("crisis_triggers.txt"))


class CrisisDetector:
    def __init__(self, config: CrisisConfig | None = None,
                 state: DetectorState | None = None) -> None:
        self.config = config or CrisisConfig()
        self.state = state

    def pressure(self) -> Pressure:
        config, state = self.config, self.state
        assert state is not None
        negatives, total = sum(state.negative), sum(state.total)
        share = negatives / total if total else 0.0
        z = z_score(negatives, state.mean_negative, state.var_negative)
        warm = state.slot - state.first_slot >= config.warmup_slots
        value = 0.0
        if warm and negatives >= config.min_negative:
            volume = z / config.z_scale
            usual = min(max(state.mean_share, 0.02), 0.98)
            share_z = (negatives - total * usual) / (total * usual * (1 - usual)) ** 0.5
            share_part = share_z / config.z_scale if total >= config.min_total_for_share else 0.0
            value = max(volume, share_part, 0.0)
        value += config.trigger_weight * sum(state.triggers)
        return Pressure(round(value, 3), negatives, total, round(share, 3), round(z, 2))

    def _close_slots(self, slot: int) -> Decision | None:
        """Close slots up to `slot`: the curve, the baselines (not while raised), the clear."""
        state, config = self.state, self.config
        assert state is not None
        decision = None
        for _ in range(min(slot - state.slot, config.window_slots + 400)):
            pressure = self.pressure()
            negatives, total = pressure.negatives, pressure.total
            state.curve = (state.curve + [{
                "t": datetime.fromtimestamp(state.slot * config.slot_minutes * 60, UTC).isoformat(),
                "volume": total, "negative": negatives, "negative_share": pressure.share,
            }])[-config.curve_slots:]
            if state.raised:
                state.calm_slots = state.calm_slots + 1 if pressure.value < config.low else 0
                if state.calm_slots >= config.window_slots:
                    state.raised, state.cleared_slot, state.calm_slots = False, state.slot, 0
                    decision = Decision("clear", 0.0, "back to the usual level / retour à la "
                                        "normale", pressure, list(state.curve), [])
            else:
                state.mean_negative, state.var_negative = _ewma(
                    state.mean_negative, state.var_negative, negatives, config.alpha)
                if total:
                    state.mean_share += config.alpha * (negatives / total - state.mean_share)
            for ring in (state.total, state.negative, state.triggers):
                ring[:] = ring[1:] + [0]
            state.slot += 1
        state.slot = max(state.slot, slot)
        return decision

    def observe(self, moment: datetime, negative: bool, text: str = "") -> list[Decision]:
        config = self.config
        slot = slot_of(moment, config)
        if self.state is None:
            self.state = DetectorState.new(slot, config)
        state = self.state
        if slot < state.slot - config.window_slots + 1:
            return []
        decisions = [d for d in [self._close_slots(slot)] if d]
        position = len(state.total) - 1 - (state.slot - slot)
        state.total[position] += 1
        found = triggers_in(text) if text else []
        if negative:
            state.negative[position] += 1
            if text:
                state.samples = (state.samples + [text[:280]])[-config.max_samples:]
        if found and (negative or sum(state.negative) >= 3):
            state.triggers[position] += 1
            state.trigger_terms = sorted(set(state.trigger_terms) | set(found))[-8:]
        pressure = self.pressure()
        if state.raised:
            state.peak = max(state.peak, pressure.value)
        cooling = (state.cleared_slot is not None
                   and slot - state.cleared_slot < config.cooldown_slots)
        if not state.raised and not cooling and pressure.value >= config.high:
            state.raised, state.calm_slots, state.peak = True, 0, pressure.value
            current = {"t": moment.isoformat(), "volume": pressure.total,
                       "negative": pressure.negatives, "negative_share": pressure.share}
            decisions.append(Decision(
                "raise", severity_of(pressure.value), pressure.reason(state), pressure,
                list(state.curve) + [current], list(state.samples)))
        if not state.raised and not any(state.triggers):
            state.trigger_terms = []
        return decisions


def severity_of(pressure: float) -> float:
    return round(min(1.0, pressure / 2.5), 2)


# --- the database ---------------------------------------------------------------------


def observe_mention(
    session: Session, *, agency_id: str, brand_id: str, moment: datetime, negative: bool,
    text: str, config: CrisisConfig | None = None, origin: str = "ingest",
) -> list[Event]:
    row = session.get(CrisisState, brand_id)
    if row is None:
        row = CrisisState(agency_id=agency_id, brand_id=brand_id, state={})
        session.add(row)
    detector = CrisisDetector(config, DetectorState(**row.state) if row.state else None)
    events: list[Event] = []
    for decision in detector.observe(moment, negative, text):
        if decision.action == "raise":
            alert_id = new_id()
            row.alert_id = alert_id
            session.add(CrisisAlert(
                id=alert_id, agency_id=agency_id, brand_id=brand_id, severity=decision.severity,
                peak_severity=decision.severity, reason=decision.reason, raised_at=moment,
                evidence={"samples": decision.samples, "curve": decision.curve},
            ))
            log.warning("crisis raised", extra={"brand_id": brand_id,
                                                "severity": decision.severity})
            events.append(new_event(CrisisAlerted(
                brand_id=brand_id, alert_id=alert_id, severity=decision.severity,
                reason=decision.reason, negative_share=decision.pressure.share,
                volume=decision.pressure.total,
                baseline=round(detector.state.mean_negative, 2) if detector.state else 0.0,
                samples=decision.samples, curve=decision.curve,
            ), tenant=agency_id, source=origin))
        elif row.alert_id and (alert := session.get(CrisisAlert, row.alert_id)) is not None:
            alert.status, alert.cleared_at = "cleared", moment
            row.alert_id = None
    if detector.state is not None:
        if row.alert_id and detector.state.raised:
            alert = session.get(CrisisAlert, row.alert_id)
            if alert is not None:
                alert.peak_severity = max(alert.peak_severity, severity_of(detector.state.peak))
        row.state = asdict(detector.state)
    return events
