"""Handlers of the generation service: plain functions (event, session) -> list[new events].

- generation.requested: drafts for a brief (drafts.py), one `DraftCreated` per kept variant
  per network;
- mentions.received: reply suggestions (replies.py);
- trends.detected, metrics.observed: remembered to rank hashtags (momentum, past engagement).

The two that call AI providers also need the provider pool and the network registry:
`make_handlers(deps)` binds them, so the runner still sees `(event, session)` functions.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session

from services.generation import hashtags
from services.generation.drafts import generate_drafts
from services.generation.replies import suggest_replies
from services.generation.runs import GenerationDeps
from shared.events import (
    Event,
    GenerationRequested,
    MentionReceived,
    MetricsObserved,
    TrendDetected,
)
from shared.runner import Handler


def on_generation_requested(event: Event, session: Session, *, deps: GenerationDeps) -> list[Event]:
    return generate_drafts(event, session, deps)


def on_mention_received(event: Event, session: Session, *, deps: GenerationDeps) -> list[Event]:
    return suggest_replies(event, session, deps)


def on_trend_detected(event: Event, session: Session) -> list[Event]:
    hashtags.record_trend(session, event.tenant, event.data)  # type: ignore[arg-type]
    return []


def on_metrics_observed(event: Event, session: Session) -> list[Event]:
    hashtags.record_metrics(session, event.tenant, event.data)  # type: ignore[arg-type]
    return []


def make_handlers(deps: GenerationDeps) -> dict[str, Handler]:
    return {
        GenerationRequested.type: partial(on_generation_requested, deps=deps),
        MentionReceived.type: partial(on_mention_received, deps=deps),
        TrendDetected.type: on_trend_detected,
        MetricsObserved.type: on_metrics_observed,
    }
