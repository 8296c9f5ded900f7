"""Synthetic mention streams with known bursts and crises, for the detector tests and the
benchmark: a daily rhythm (quiet nights, lunch and evening peaks), Zipf-distributed
vocabulary, Poisson arrivals, and injected events whose start and end are known."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
RHYTHM = (
    0.20, 0.10, 0.05, 0.04, 0.04, 0.08, 0.20, 0.45, 0.70, 0.80, 0.80, 0.90,
    1.10, 1.00, 0.80, 0.75, 0.80, 0.95, 1.15, 1.35, 1.50, 1.30, 0.90, 0.45,
)
VOCABULARY = tuple(
    f"{stem}{suffix}" for stem in (
        "croissant", "latte", "terrasse", "livraison", "brunch", "espresso", "tartine",
        "gateau", "cappuccino", "baguette", "menu", "patisserie", "vitrine", "comptoir",
        "recette", "saison", "chocolat", "caramel", "framboise", "pistache")
    for suffix in ("", "s", "rie", "tte", "lle", "ment", "ique")
)
POSITIVE = ("Trop bien, merci !", "Love this!", "Génial comme toujours", "Great job team")
NEUTRAL = ("Vous ouvrez à quelle heure ?", "Is it available?", "On trouve ça où ?")
NEGATIVE = ("Très déçu, commande fausse", "Terrible service today", "Nul, vraiment nul",
            "Waited an hour, not impressed", "Toujours pas de réponse, inadmissible")
TRIGGERS = ("boycott", "scandale", "intoxication", "rappel produit", "lawsuit")


@dataclass(frozen=True)
class Item:
    at: datetime
    text: str
    negative: bool = False
    injected: str | None = None  # the burst term or crisis id this item belongs to


@dataclass(frozen=True)
class Injected:
    key: str  # the term (trends) or an id (crises)
    start: datetime
    end: datetime


def arrivals(rng: random.Random, start: datetime, hours: float, per_hour: float,
             rhythm: bool = True) -> list[datetime]:
    """Poisson arrivals, thinned by the daily rhythm."""
    times: list[datetime] = []
    moment, end = start, start + timedelta(hours=hours)
    peak = per_hour * (max(RHYTHM) if rhythm else 1.0)
    while True:
        moment += timedelta(hours=rng.expovariate(peak))
        if moment >= end:
            return times
        weight = RHYTHM[moment.hour] / max(RHYTHM) if rhythm else 1.0
        if rng.random() < weight:
            times.append(moment)


def _background_words(rng: random.Random, count: int) -> list[str]:
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(VOCABULARY))]
    return rng.choices(VOCABULARY, weights=weights, k=count)


def trend_stream(seed: int, days: int = 8, per_hour: float = 40.0,
                 bursts: int = 12) -> tuple[list[Item], list[Injected]]:
    rng = random.Random(seed)
    items = [Item(at, " ".join(_background_words(rng, 3)))
             for at in arrivals(rng, START, days * 24, per_hour)]
    injected: list[Injected] = []
    for index in range(bursts):
        new_term = index % 2 == 0
        term = f"#lancement{seed}x{index}" if new_term else rng.choice(VOCABULARY[40:120])
        start = START + timedelta(days=1.2 + (days - 1.6) * index / bursts,
                                  hours=rng.uniform(0, 4))
        hours = rng.uniform(1.0, 3.0)
        rate = rng.uniform(25, 60)
        for at in arrivals(rng, start, hours, rate, rhythm=False):
            words = [term, *_background_words(rng, 2)]
            items.append(Item(at, " ".join(words), injected=term))
        injected.append(Injected(term, start, start + timedelta(hours=hours)))
    items.sort(key=lambda item: item.at)
    return items, injected


def crisis_stream(seed: int, days: int = 7, per_hour: float = 20.0, negative_share: float = 0.15,
                  crises: int = 0, trigger_rate_per_day: float = 1.0
                  ) -> tuple[list[Item], list[Injected]]:
    rng = random.Random(seed)
    items: list[Item] = []
    for at in arrivals(rng, START, days * 24, per_hour):
        negative = rng.random() < negative_share
        text = rng.choice(NEGATIVE if negative else POSITIVE + NEUTRAL)
        items.append(Item(at, text, negative))
    for at in arrivals(rng, START, days * 24, trigger_rate_per_day / 24, rhythm=False):
        # a trigger word in an ordinary mention now and then: must not raise anything alone
        items.append(Item(at, f"Pas de {rng.choice(TRIGGERS)} ici, tout va bien", False))
    injected: list[Injected] = []
    for index in range(crises):
        start = START + timedelta(days=1.5 + (days - 2.0) * index / max(1, crises),
                                  hours=rng.uniform(8, 18))
        hours = rng.uniform(2.0, 5.0)
        rate = rng.uniform(15, 40)
        key = f"crisis-{seed}-{index}"
        for at in arrivals(rng, start, hours, rate, rhythm=False):
            trigger = rng.random() < 0.3
            text = rng.choice(NEGATIVE) + (f" #{rng.choice(TRIGGERS)}" if trigger else "")
            items.append(Item(at, text, True, key))
        injected.append(Injected(key, start, start + timedelta(hours=hours)))
    items.sort(key=lambda item: item.at)
    return items, injected


def median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
