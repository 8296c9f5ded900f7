"""Hashtags: ranked by relevance to the text, trend momentum (from `trends.detected`) and the
brand's past engagement with the tag (from `metrics.observed`), and counted to each
network's norms.

score = 0.6 relevance + 0.25 momentum + 0.15 engagement (re-weighted without engagement
when the brand has no history with the tag). Every tag says why it scored as it did.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.ai.base import HashtagOut
from plugins.networks.base import NetworkAdapter
from services.generation.models import PostEngagement, TrendSeen
from shared.db import utcnow
from shared.events import Hashtag, MetricsObserved, TrendDetected

# How many hashtags each network's audience expects (the network's hard limit still wins).
NORMS: dict[str, int] = {
    "x": 2,
    "bluesky": 2,
    "threads": 2,
    "facebook": 2,
    "telegram": 2,
    "discord": 0,
    "linkedin": 3,
    "mastodon": 4,
    "sandbox": 3,
    "instagram": 10,
}
DEFAULT_NORM = 3
_TAG_CHARS = re.compile(r"[^\w]+")
_CAMEL = re.compile(r"[A-ZÀ-ÖØ-Þ]?[a-zß-öø-ÿ]+|[A-ZÀ-ÖØ-Þ]+(?![a-zß-öø-ÿ])|\d+")
_WORDS = re.compile(r"[^\W_]+")
_URL = re.compile(r"https?://\S+")


def budget(adapter: NetworkAdapter) -> int:
    norm = NORMS.get(adapter.name, DEFAULT_NORM)
    limit = adapter.limits.max_hashtags
    return norm if limit is None else min(norm, limit)


def fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def clean_tag(tag: str) -> str:
    return _TAG_CHARS.sub("", tag.strip().lstrip("#"))


def tag_words(tag: str) -> list[str]:
    return [fold(w) for w in _CAMEL.findall(clean_tag(tag))] or [fold(clean_tag(tag))]


def text_words(text: str) -> set[str]:
    return {fold(w) for w in _WORDS.findall(_URL.sub(" ", text)) if len(w) >= 3}


def _present(word: str, words: set[str]) -> bool:
    if word in words:
        return True
    return len(word) >= 4 and any(
        w.startswith(word) or word.startswith(w) for w in words if len(w) >= 4
    )


def relevance(tag: str, words: set[str]) -> tuple[float, list[str]]:
    parts = [w for w in tag_words(tag) if len(w) >= 3] or tag_words(tag)
    found = [w for w in parts if _present(w, words)]
    return (len(found) / len(parts) if parts else 0.0), found


@dataclass(frozen=True)
class Engagement:
    posts: int
    ratio: float  # the tag's average engagement / the brand's average


def _engagement(
    session: Session, agency_id: str, brand_id: str
) -> tuple[dict[str, list[int]], float]:
    rows = session.scalars(
        select(PostEngagement)
        .where(PostEngagement.agency_id == agency_id, PostEngagement.brand_id == brand_id)
        .order_by(PostEngagement.observed_at.desc())
        .limit(1000)
    ).all()
    by_tag: dict[str, list[int]] = {}
    for row in rows:
        for tag in {fold(clean_tag(t)) for t in row.hashtags}:
            by_tag.setdefault(tag, []).append(row.engagement)
    average = sum(r.engagement for r in rows) / len(rows) if rows else 0.0
    return by_tag, average


def _why(
    language: str,
    rel: float,
    found: list[str],
    momentum: float | None,
    engagement: Engagement | None,
) -> str:
    fr = language == "fr"
    parts = [
        (f"pertinence {rel:.2f}" if fr else f"relevance {rel:.2f}")
        + (f" ({', '.join(found)})" if found else "")
    ]
    if momentum is not None:
        parts.append(
            f"tendance en hausse (momentum {momentum:.1f})"
            if fr
            else f"trending (momentum {momentum:.1f})"
        )
    if engagement is None:
        parts.append("pas d'historique d'engagement" if fr else "no past engagement known")
    else:
        parts.append(
            f"engagement passé ×{engagement.ratio:.2f} sur {engagement.posts} publication(s)"
            if fr
            else f"past engagement ×{engagement.ratio:.2f} over {engagement.posts} post(s)"
        )
    return " · ".join(parts)


def rank(
    session: Session,
    agency_id: str,
    brand_id: str,
    text: str,
    suggested: list[HashtagOut],
    language: str,
) -> list[Hashtag]:
    """Candidates (the model's, and trends that share words with the text), best first."""
    words = text_words(text)
    trends = session.scalars(
        select(TrendSeen)
        .where(TrendSeen.agency_id == agency_id, TrendSeen.brand_id == brand_id)
        .order_by(TrendSeen.seen_at.desc())
        .limit(300)
    ).all()
    momentum_of = {fold(clean_tag(t.term.replace(" ", ""))): t.momentum for t in trends}
    candidates: dict[str, str] = {}
    for item in suggested:
        tag = clean_tag(item.tag)
        if tag and fold(tag) not in candidates:
            candidates[fold(tag)] = tag
    for trend in trends:
        tag = clean_tag("".join(w[:1].upper() + w[1:] for w in trend.term.split()))
        if tag and fold(tag) not in candidates and relevance(tag, words)[0] > 0:
            candidates[fold(tag)] = tag
    by_tag, average = _engagement(session, agency_id, brand_id)
    ranked = []
    for key, tag in candidates.items():
        rel, found = relevance(tag, words)
        if key in {fold(clean_tag(s.tag)) for s in suggested}:
            rel = max(rel, 0.3)  # the model proposed it for this brief
        momentum = momentum_of.get(key)
        mom = max(0.0, momentum) / (1.0 + max(0.0, momentum)) if momentum is not None else 0.0
        history = by_tag.get(key)
        engagement = None
        if history and average > 0:
            engagement = Engagement(len(history), (sum(history) / len(history)) / average)
        if engagement is None:
            score = (0.6 * rel + 0.25 * mom) / 0.85
        else:
            score = 0.6 * rel + 0.25 * mom + 0.15 * (engagement.ratio / (1.0 + engagement.ratio))
        if rel <= 0:
            continue
        ranked.append(
            Hashtag(
                tag=tag,
                score=round(min(score, 1.0), 3),
                why=_why(language, rel, found, momentum, engagement),
            )
        )
    ranked.sort(key=lambda h: (-h.score, h.tag.lower()))
    return ranked


# --- what the service learns from other services' events -------------------------------


def record_trend(session: Session, agency_id: str, trend: TrendDetected) -> None:
    term = trend.term.strip().lstrip("#")[:200]
    row = session.scalars(
        select(TrendSeen).where(
            TrendSeen.agency_id == agency_id,
            TrendSeen.brand_id == trend.brand_id,
            TrendSeen.term == term,
        )
    ).first()
    if row is None:
        row = TrendSeen(agency_id=agency_id, brand_id=trend.brand_id, term=term)
        session.add(row)
    row.score, row.momentum, row.seen_at = trend.score, trend.momentum, utcnow()


def record_metrics(session: Session, agency_id: str, metrics: MetricsObserved) -> None:
    row = session.scalars(
        select(PostEngagement).where(
            PostEngagement.agency_id == agency_id,
            PostEngagement.brand_id == metrics.brand_id,
            PostEngagement.network == metrics.network,
            PostEngagement.external_id == metrics.external_id,
        )
    ).first()
    if row is None:
        row = PostEngagement(
            agency_id=agency_id,
            brand_id=metrics.brand_id,
            network=metrics.network,
            external_id=metrics.external_id,
        )
        session.add(row)
    if metrics.hashtags:
        row.hashtags = [clean_tag(t) for t in metrics.hashtags if clean_tag(t)]
    row.engagement = metrics.likes + metrics.reposts + metrics.replies + metrics.quotes
    row.impressions = metrics.impressions
    row.observed_at = metrics.observed_at
