"""Engagement insights: which posts worked, by content type, hashtag, hour of week and network.

Engagement of a post = (likes + reposts + replies + quotes) / impressions; when the network
gives no impressions, / the account's audience (`settings["followers"]` of the account),
and when neither is known the post is left out of the rates (it still counts in `posts`).
Medians, not means: one viral post must not make a whole category look good.

Recommendations compare groups (network × content type × day × part of day, then each
dimension alone) with the brand's median engagement. A group needs 5 posts; its lift is its
median over the brand's median; its confidence is 1 - p of a one-sided sign test (are more
of its posts above the brand's median than chance would give?), so a lift seen on many
posts, consistently, is trusted more than the same lift on five.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest.models import TrackedPost
from shared.models import Brand, SocialAccount

MIN_POSTS = 5
DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
PARTS = {  # part of day by local hour
    "en": {"night": "nights", "morning": "mornings", "afternoon": "afternoons",
           "evening": "evenings"},
    "fr": {"night": "la nuit", "morning": "le matin", "afternoon": "l'après-midi",
           "evening": "le soir"},
}
CONTENT = {
    "en": {"text": "Text posts", "image": "Image posts", "video": "Video posts",
           "link": "Link posts", "thread": "Threads"},
    "fr": {"text": "Les publications texte", "image": "Les publications avec image",
           "video": "Les vidéos", "link": "Les publications avec lien", "thread": "Les fils"},
}
NETWORK_NAMES = {"x": "X", "linkedin": "LinkedIn", "facebook": "Facebook",
                 "instagram": "Instagram", "threads": "Threads", "mastodon": "Mastodon",
                 "bluesky": "Bluesky", "telegram": "Telegram", "sandbox": "Sandbox"}


@dataclass(frozen=True)
class PostEngagement:
    post_id: str
    network: str
    content_type: str
    hashtags: tuple[str, ...]
    published_at: datetime | None
    local_day: int | None  # 0 = Monday
    local_hour: int | None
    interactions: int
    denominator: int | None
    normalised_by: str  # impressions, audience, none

    @property
    def rate(self) -> float | None:
        return self.interactions / self.denominator if self.denominator else None

    @property
    def part_of_day(self) -> str | None:
        if self.local_hour is None:
            return None
        hour = self.local_hour
        return ("night" if hour < 6 else "morning" if hour < 12
                else "afternoon" if hour < 18 else "evening")


def post_engagements(session: Session, agency_id: str, brand_id: str) -> list[PostEngagement]:
    brand = session.get(Brand, brand_id)
    zone = ZoneInfo(brand.timezone if brand is not None else "UTC")
    audiences = {
        account.id: int((account.settings or {}).get("followers") or 0)
        for account in session.scalars(select(SocialAccount).where(
            SocialAccount.agency_id == agency_id, SocialAccount.brand_id == brand_id))
    }
    rows = session.scalars(select(TrackedPost).where(
        TrackedPost.agency_id == agency_id, TrackedPost.brand_id == brand_id,
        TrackedPost.metrics_at.is_not(None)))
    found = []
    for post in rows:
        interactions = post.likes + post.reposts + post.replies + post.quotes
        if post.impressions:
            denominator, how = post.impressions, "impressions"
        elif audiences.get(post.account_id):
            denominator, how = audiences[post.account_id], "audience"
        else:
            denominator, how = None, "none"
        local = post.published_at.astimezone(zone) if post.published_at else None
        found.append(PostEngagement(
            post_id=post.post_id, network=post.network, content_type=post.content_type,
            hashtags=tuple(post.hashtags), published_at=post.published_at,
            local_day=local.weekday() if local else None, local_hour=local.hour if local else None,
            interactions=interactions, denominator=denominator, normalised_by=how))
    return found


@dataclass(frozen=True)
class Group:
    dimension: str
    key: str
    posts: int
    median_rate: float
    lift: float
    confidence: float
    labels: dict[str, str]


def sign_test_confidence(above: int, total: int) -> float:
    """1 - P(at least `above` of `total` above the median by chance), one-sided."""
    tail = sum(math.comb(total, k) for k in range(above, total + 1)) / 2 ** total
    return round(1 - tail, 3)


def _describe(dimension: str, key: str, language: str) -> str:
    parts = dict(zip(dimension.split("+"), key.split("|"), strict=True))
    days, names = DAYS[language], PARTS[language]
    subject = CONTENT[language].get(parts.get("content_type", ""), "")
    if not subject:
        subject = "Posts" if language == "en" else "Les publications"
    where = ""
    if "network" in parts:
        name = NETWORK_NAMES.get(parts["network"], parts["network"])
        where = f" on {name}" if language == "en" else f" sur {name}"
    when = ""
    if "day" in parts:
        day = days[int(parts["day"])]
        part = parts.get("part_of_day")
        if language == "en":
            when = f" on {day} {names[part]}" if part else f" on {day}s"
        else:
            when = f" le {day}" + (f" {names[part].split()[-1]}" if part else "")
    elif "hour" in parts:
        when = f" at {parts['hour']}:00" if language == "en" else f" à {parts['hour']} h"
    elif "hashtag" in parts:
        when = f" with #{parts['hashtag']}" if language == "en" else f" avec #{parts['hashtag']}"
    return subject + where + when


def _keys(post: PostEngagement) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {
        "content_type": [post.content_type], "network": [post.network],
        "hashtag": list(post.hashtags),
        "network+content_type": [f"{post.network}|{post.content_type}"],
    }
    if post.local_day is not None and post.part_of_day is not None:
        keys["hour_of_week"] = [f"{post.local_day}|{post.local_hour}"]
        keys["network+content_type+day+part_of_day"] = [
            f"{post.network}|{post.content_type}|{post.local_day}|{post.part_of_day}"]
        keys["day+part_of_day"] = [f"{post.local_day}|{post.part_of_day}"]
    return keys


def groups(posts: list[PostEngagement], min_posts: int = 1) -> list[Group]:
    rated = [p for p in posts if p.rate is not None]
    if not rated:
        return []
    overall = statistics.median(p.rate for p in rated)  # type: ignore[misc]
    members: dict[tuple[str, str], list[float]] = defaultdict(list)
    for post in rated:
        for dimension, keys in _keys(post).items():
            for key in keys:
                members[(dimension, key)].append(post.rate)  # type: ignore[arg-type]
    found = []
    for (dimension, key), rates in members.items():
        if len(rates) < min_posts:
            continue
        median = statistics.median(rates)
        above = sum(1 for rate in rates if rate > overall)
        labels = {}
        if dimension != "hour_of_week":
            labels = {lang: _describe(dimension, key, lang) for lang in ("en", "fr")}
        found.append(Group(dimension, key, len(rates), round(median, 5),
                           round(median / overall, 2) if overall else 0.0,
                           sign_test_confidence(above, len(rates)), labels))
    return sorted(found, key=lambda g: (g.dimension, -g.median_rate))


def recommendations(posts: list[PostEngagement], limit: int = 5) -> list[dict[str, object]]:
    """The strongest positive lifts, phrased in French and English."""
    candidates = [g for g in groups(posts, MIN_POSTS)
                  if g.lift > 1.1 and g.confidence >= 0.8 and g.labels]
    # strongest first; on a tie the most specific group (it says more to act on)
    candidates.sort(key=lambda g: (round(g.confidence * math.log(g.lift), 3),
                                   g.dimension.count("+"), g.posts), reverse=True)
    chosen: list[Group] = []
    for group in candidates:
        if not any(c.posts == group.posts and c.lift == group.lift for c in chosen):
            chosen.append(group)  # the same posts seen through a broader group say nothing new
    found = []
    for group in chosen[:limit]:
        lift_fr = f"{group.lift:.1f}".replace(".", ",")
        found.append({
            "dimension": group.dimension, "key": group.key, "posts": group.posts,
            "lift": group.lift, "confidence": group.confidence,
            "en": f"{group.labels['en']} got {group.lift:.1f}× the median engagement "
                  f"({group.posts} posts).",
            "fr": f"{group.labels['fr']} ont obtenu {lift_fr}× l'engagement médian "
                  f"({group.posts} publications).",
        })
    return found


def breakdowns(posts: list[PostEngagement]) -> dict[str, list[dict[str, object]]]:
    found: dict[str, list[dict[str, object]]] = defaultdict(list)
    for group in groups(posts):
        if group.dimension in ("content_type", "network", "hashtag", "hour_of_week"):
            found[group.dimension].append({"key": group.key, "posts": group.posts,
                                           "median_engagement": group.median_rate,
                                           "lift": group.lift})
    return dict(found)


def to_csv(posts: list[PostEngagement]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["post_id", "network", "content_type", "hashtags", "published_at",
                     "local_day", "local_hour", "interactions", "denominator", "normalised_by",
                     "engagement"])
    for post in posts:
        writer.writerow([post.post_id, post.network, post.content_type, " ".join(post.hashtags),
                         post.published_at.isoformat() if post.published_at else "",
                         post.local_day if post.local_day is not None else "",
                         post.local_hour if post.local_hour is not None else "",
                         post.interactions, post.denominator or "", post.normalised_by,
                         f"{post.rate:.6f}" if post.rate is not None else ""])
    return out.getvalue()


def chart_svg(posts: list[PostEngagement], by: str = "content_type",
              language: str = "en") -> str:
    """A bar chart of the median engagement per group, as standalone SVG."""
    rows = breakdowns(posts).get(by, [])[:12]
    title = {"en": f"Median engagement by {by.replace('_', ' ')}",
             "fr": f"Engagement médian par {by.replace('_', ' ')}"}[language]
    width, bar_height, left = 640, 26, 160
    height = 50 + bar_height * max(1, len(rows))
    peak = max((float(row["median_engagement"]) for row in rows), default=0.0) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="10" y="24" font-family="sans-serif" font-size="15">{escape(title)}</text>']
    if not rows:
        empty = {"en": "No measured posts yet", "fr": "Pas encore de publication mesurée"}
        parts.append(f'<text x="10" y="50" font-family="sans-serif" font-size="13">'
                     f'{empty[language]}</text>')
    fmt: Callable[[float], str] = lambda v: f"{v:.2%}"  # noqa: E731
    for index, row in enumerate(rows):
        y = 40 + index * bar_height
        value = float(row["median_engagement"])
        length = int((width - left - 90) * value / peak)
        parts.append(f'<text x="10" y="{y + 17}" font-family="sans-serif" font-size="12">'
                     f'{escape(str(row["key"]))[:24]}</text>')
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{length}" height="{bar_height - 8}" '
                     f'fill="#3b6fd8"><title>{row["posts"]} posts</title></rect>')
        parts.append(f'<text x="{left + length + 6}" y="{y + 17}" font-family="sans-serif" '
                     f'font-size="12">{fmt(value)} ({row["posts"]})</text>')
    parts.append("</svg>")
    return "".join(parts)
