"""Routes of the publish service, mounted by the api process: the best time to post."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.api.deps import PrincipalDep, SessionDep
from services.publish.best_time import best_times_for, next_start
from services.publish.scheduler import brand_zone
from shared.db import get_owned, utcnow
from shared.models import SocialAccount

router = APIRouter(prefix="/v1", tags=["publish"])


class BestTimeRead(BaseModel):
    weekday: int = Field(description="0 = Monday .. 6 = Sunday, in the brand's timezone.")
    hour: int = Field(description="Local hour the slot starts (0..23).")
    labels: dict[str, str] = Field(description='The slot in words, e.g. {"fr": "mardi 12:00"}.')
    next_at: datetime = Field(description="The slot's next start (UTC).")
    expected_engagement: float = Field(
        description="Expected engagement rate (per impression; a count where the network "
                    "reports no impressions).")
    confidence: float = Field(description="0..1: the share of the estimate from this account's "
                                          "own history (the rest is the network prior).")
    history_weight: float = Field(description="Recency-weighted number of past posts in this hour.")


class BestTimePage(BaseModel):
    account_id: str
    timezone: str
    observations: int = Field(description="Published posts with engagement in the history.")
    prior_strength: float = Field(description="How many posts' worth the prior weighs per slot.")
    items: list[BestTimeRead]


@router.get("/accounts/{account_id}/best-times", response_model=BestTimePage,
            summary="Best times to post for one account")
def get_best_times(
    account_id: str, principal: PrincipalDep, session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=168)] = 5,
) -> BestTimePage:
    account = get_owned(session, SocialAccount, account_id, principal.agency_id)
    zone = brand_zone(session, account.brand_id, principal.agency_id)
    now = utcnow()
    estimate = best_times_for(session, account.id, principal.agency_id, account.network, now)
    return BestTimePage(
        account_id=account.id, timezone=zone.key, observations=estimate.observations,
        prior_strength=round(estimate.prior_strength, 3),
        items=[
            BestTimeRead(
                weekday=slot.weekday, hour=slot.hour,
                labels={"fr": slot.label("fr"), "en": slot.label("en")},
                next_at=next_start(slot, zone, now), expected_engagement=slot.expected,
                confidence=round(slot.confidence, 4), history_weight=round(slot.history_weight, 3),
            )
            for slot in estimate.slots[:limit]
        ],
    )
