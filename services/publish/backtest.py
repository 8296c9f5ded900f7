"""Backtest of the best time to post: replay an account's history week by week and compare
the engagement of the slots the model would have picked with a fixed-time baseline.

For each week after a warm-up, the model is fitted on the posts published before that week
and picks its top `posts_per_week` hours; the baseline posts every day at `baseline_hour`
(local). Both are scored with the mean engagement actually observed in those hours over the
evaluation period (hours with no post there are left out of both). Uplift = model / baseline - 1.

    python -m services.publish.backtest --synthetic
    python -m services.publish.backtest --account <account id>
"""

from __future__ import annotations

import argparse
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.publish.best_time import HOURS_OF_WEEK, Observation, estimate, network_shape

WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class BacktestResult:
    weeks: int
    model_mean: float
    baseline_mean: float
    picks: dict[int, int]  # hour of week -> how many weeks the model picked it

    @property
    def uplift(self) -> float:
        return self.model_mean / self.baseline_mean - 1 if self.baseline_mean else math.nan

    def describe(self) -> str:
        top = sorted(self.picks.items(), key=lambda item: -item[1])[:3]
        return (f"weeks replayed: {self.weeks}\n"
                f"model (best time):   {self.model_mean:.4f} mean engagement\n"
                f"baseline (fixed):    {self.baseline_mean:.4f} mean engagement\n"
                f"uplift:              {self.uplift:+.1%}\n"
                f"most picked hours of week: {top}")


def backtest(history: Sequence[Observation], network: str, baseline_hour: int = 9,
             posts_per_week: int = 7, warmup_weeks: int = 4) -> BacktestResult:
    ordered = sorted(history, key=lambda o: o.published_at)
    if not ordered:
        return BacktestResult(0, 0.0, 0.0, {})
    start = ordered[0].published_at + warmup_weeks * WEEK
    evaluation = [o for o in ordered if o.published_at >= start]
    truth_sums: dict[int, list[float]] = defaultdict(list)
    for o in evaluation:
        truth_sums[o.hour_of_week].append(o.rate)
    truth = {h: sum(v) / len(v) for h, v in truth_sums.items()}
    baseline_hours = [day * 24 + baseline_hour for day in range(7)]
    model_scores: list[float] = []
    baseline_scores: list[float] = []
    picks: dict[int, int] = defaultdict(int)
    weeks = 0
    week_start = start
    while week_start <= ordered[-1].published_at:
        seen = [o for o in ordered if o.published_at < week_start]
        chosen = [slot.hour_of_week for slot in estimate(seen, network, week_start).slots]
        chosen = chosen[:posts_per_week]
        for how in chosen:
            picks[how] += 1
        model_scores += [truth[h] for h in chosen if h in truth]
        baseline_scores += [truth[h] for h in baseline_hours if h in truth]
        weeks += 1
        week_start += WEEK
    return BacktestResult(
        weeks=weeks,
        model_mean=sum(model_scores) / len(model_scores) if model_scores else 0.0,
        baseline_mean=sum(baseline_scores) / len(baseline_scores) if baseline_scores else 0.0,
        picks=dict(picks),
    )


def synthetic_history(weeks: int, posts_per_week: int, best_hour_of_week: int, network: str,
                      seed: int = 7, boost: float = 2.5, noise: float = 0.35,
                      end: datetime = datetime(2026, 3, 2, tzinfo=UTC)) -> list[Observation]:
    """Posts at random daytime hours; engagement follows the network's rhythm, with one hour
    of the week `boost` times better, and log-normal noise."""
    rng = random.Random(seed)
    shape = network_shape(network)
    history: list[Observation] = []
    for week in range(weeks):
        week_start = end - (weeks - week) * WEEK
        for _ in range(posts_per_week):
            how = best_hour_of_week if rng.random() < 0.08 else rng.randrange(HOURS_OF_WEEK)
            if 1 <= how % 24 <= 5:
                continue  # nobody posts in the middle of the night
            mean = 0.03 * shape[how] * (boost if how == best_hour_of_week else 1.0)
            history.append(Observation(
                hour_of_week=how, rate=mean * math.exp(rng.gauss(0, noise) - noise ** 2 / 2),
                published_at=week_start + timedelta(hours=how, minutes=rng.randrange(60))))
    return history


def _account_history(account_id: str) -> tuple[list[Observation], str]:
    from services.publish.best_time import account_history
    from shared.config import get_settings
    from shared.db import import_all_models, make_engine, make_session_factory
    from shared.models import SocialAccount

    import_all_models()
    engine = make_engine(get_settings().database_url)
    with make_session_factory(engine)() as session:
        account = session.get(SocialAccount, account_id)
        if account is None:
            raise SystemExit(f"no account {account_id}")
        history = account_history(session, account.id, account.agency_id)
        network = account.network
    engine.dispose()
    return history, network


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.publish.backtest",
                                     description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--account", help="replay this account's engagement history")
    source.add_argument("--synthetic", action="store_true",
                        help="replay a synthetic history with a known best hour (Tuesday 14:00)")
    parser.add_argument("--baseline-hour", type=int, default=9,
                        help="the fixed-time baseline's local hour")
    parser.add_argument("--posts-per-week", type=int, default=7)
    args = parser.parse_args(argv)
    if args.synthetic:
        network = "sandbox"
        history = synthetic_history(52, 21, best_hour_of_week=1 * 24 + 14, network=network)
    else:
        history, network = _account_history(args.account)
    result = backtest(history, network, args.baseline_hour, args.posts_per_week)
    print(f"posts in history: {len(history)} ({network})")
    print(result.describe())


if __name__ == "__main__":
    main()
