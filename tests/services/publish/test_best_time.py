"""Best time to post: synthetic histories with a known best hour; thin histories fall back on
the network prior; metrics.observed feeds the history in local time; the API is tenant-scoped;
the backtest beats a fixed-time baseline when there is a best hour to find."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.publish.backtest import backtest, main, synthetic_history
from services.publish.best_time import DEFAULT_RATE, Observation, estimate, network_shape
from services.publish.models import EngagementObservation
from shared.config import Settings
from shared.db import make_engine, make_session_factory, transaction
from shared.events import MetricsObserved
from shared.models import SocialAccount
from tests.services.publish.conftest import Harness, new_agency, prepare_database

NOW = datetime(2026, 3, 2, tzinfo=UTC)
TUESDAY_14 = 1 * 24 + 14
SATURDAY_21 = 5 * 24 + 21


def prior_ranking(network: str) -> list[int]:
    shape = network_shape(network)
    return sorted(range(168), key=lambda h: (-shape[h], h))


@pytest.mark.parametrize("best", [TUESDAY_14, SATURDAY_21])
def test_a_rich_history_finds_its_best_hour_with_confidence(best):
    history = synthetic_history(52, 21, best_hour_of_week=best, network="sandbox", seed=best)
    found = estimate(history, "sandbox", NOW)
    assert found.slots[0].hour_of_week == best
    assert found.slots[0].confidence > 0.6
    assert found.slots[0].expected > found.slots[1].expected


def test_recent_posts_weigh_more_than_old_ones():
    old = synthetic_history(40, 21, best_hour_of_week=TUESDAY_14, network="sandbox", seed=1,
                            end=NOW - timedelta(weeks=60))
    recent = synthetic_history(30, 21, best_hour_of_week=SATURDAY_21, network="sandbox", seed=2)
    assert estimate(old + recent, "sandbox", NOW).slots[0].hour_of_week == SATURDAY_21


def test_a_thin_history_returns_the_network_prior_with_low_confidence():
    thin = [Observation(hour_of_week=3 * 24 + 16, rate=0.09, published_at=NOW - timedelta(days=3)),
            Observation(hour_of_week=6 * 24 + 10, rate=0.01, published_at=NOW - timedelta(days=9))]
    found = estimate(thin, "linkedin", NOW)
    assert [s.hour_of_week for s in found.slots[:5]] == prior_ranking("linkedin")[:5]
    assert max(s.confidence for s in found.slots) < 0.1


def test_no_history_is_exactly_the_prior():
    found = estimate([], "x", NOW)
    assert [s.hour_of_week for s in found.slots] == prior_ranking("x")
    assert all(s.confidence == 0 for s in found.slots)
    shape = network_shape("x")
    top = found.slots[0]
    assert top.expected == pytest.approx(DEFAULT_RATE * shape[top.hour_of_week])


def test_backtest_shows_an_uplift_over_a_fixed_time_when_a_best_hour_exists(capsys):
    history = synthetic_history(52, 21, best_hour_of_week=TUESDAY_14, network="sandbox")
    result = backtest(history, "sandbox", baseline_hour=9)
    assert result.weeks >= 40
    assert result.uplift > 0.1
    assert max(result.picks, key=result.picks.get) == TUESDAY_14 or TUESDAY_14 in result.picks
    main(["--synthetic"])
    assert "uplift:" in capsys.readouterr().out


def observed(harness: Harness, external_id: str, published_at: datetime, likes: int,
             impressions: int | None, observed_at: datetime) -> None:
    harness.handle(harness.event(MetricsObserved(
        brand_id=harness.brand_id, account_id=harness.accounts["fake"], network="fake",
        external_id=external_id, likes=likes, replies=1, impressions=impressions,
        observed_at=observed_at, published_at=published_at)))


def test_metrics_are_binned_by_local_hour_of_week_and_the_latest_observation_wins(harness):
    published = datetime(2026, 7, 7, 12, 30, tzinfo=UTC)  # Tuesday 14:30 in Paris (CEST)
    hour = timedelta(hours=1)
    observed(harness, "e1", published, likes=9, impressions=100, observed_at=published + hour)
    observed(harness, "e1", published, likes=19, impressions=200, observed_at=published + 5 * hour)
    observed(harness, "e1", published, likes=4, impressions=50, observed_at=published + 2 * hour)
    with harness.session() as session:
        [row] = session.scalars(select(EngagementObservation)).all()
    assert row.hour_of_week == TUESDAY_14
    assert (row.engagement, row.rate) == (20, pytest.approx(0.1))


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def api_client(kafka_settings: Settings) -> Iterator[TestClient]:
    from services.api.main import create_app

    prepare_database(kafka_settings.database_url)
    with TestClient(create_app(kafka_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.kafka
def test_best_times_api_is_tenant_scoped_and_answers_in_french_and_english(
        kafka_settings, api_client):
    engine = make_engine(kafka_settings.database_url)
    factory = make_session_factory(engine)
    agency_a, brand_a, key_a = new_agency(factory, "Agence A")
    _, _, key_b = new_agency(factory, "Agency B")
    with transaction(factory) as session:
        account = SocialAccount(agency_id=agency_a, brand_id=brand_a, network="sandbox", handle="a")
        session.add(account)
        session.flush()
        account_id = account.id
        history = synthetic_history(52, 21, best_hour_of_week=TUESDAY_14, network="sandbox",
                                    end=datetime.now(UTC))
        for index, obs in enumerate(history):
            session.add(EngagementObservation(
                agency_id=agency_a, account_id=account_id, network="sandbox",
                external_id=f"e{index}",
                published_at=obs.published_at, hour_of_week=obs.hour_of_week, rate=obs.rate))
    engine.dispose()
    url = f"/v1/accounts/{account_id}/best-times?limit=3"
    answer = api_client.get(url, headers={"Authorization": f"Bearer {key_a}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["timezone"] == "Europe/Paris" and len(body["items"]) == 3
    top = body["items"][0]
    assert (top["weekday"], top["hour"]) == (1, 14)
    assert top["labels"] == {"fr": "mardi 14:00", "en": "Tuesday 14:00"}
    assert top["confidence"] > 0.5
    assert datetime.fromisoformat(top["next_at"]) > datetime.now(UTC)
    other = api_client.get(url, headers={"Authorization": f"Bearer {key_b}"})
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
