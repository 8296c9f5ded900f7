"""The sandbox network's server: a small local social network the `sandbox` adapter talks to
over HTTP, so that a fresh machine runs the whole loop with no account and no key, and the
publish and ingest services can be tested against real HTTP failures.

It stores what is published (once per idempotency key), and answers with mentions and
engagement that are *simulated*, deterministically: everything about a post's audience comes
from a hash of the server's seed and the post's external id, and the server's clock decides
how much of it has happened yet.

Audience model. A post's life is cut into hours since it was published. In hour `k` the
expected number of mentions is

    peak × exp(-k / decay_hours) × RHYTHM[local hour of the author]

so activity fades with the post's age and follows the author's day (quiet at night, busy at
lunch and in the evening). Each hour draws its mentions from its own seeded random stream, so
they are generated lazily, in time order, and never change once drawn. Likes, reposts, quotes
and impressions grow with the cumulative expected activity (diminishing returns as the post
ages); `replies` counts the simulated replies already visible.

Faults. `PUT /sandbox/api/faults` makes the next requests (for one handle or every handle)
answer 429, 500, 401 or 422, or time out (before or after storing the post).

Endpoints (JSON; errors are RFC 9457 problem details):

    POST   /sandbox/api/accounts/{handle}/posts            publish (Idempotency-Key header)
    GET    /sandbox/api/accounts/{handle}/posts         newest first; ?idempotency_key= finds one
    GET    /sandbox/api/accounts/{handle}/posts/{id}    one post
    GET    /sandbox/api/accounts/{handle}/mentions      ?cursor=&limit=, oldest first
    GET    /sandbox/api/accounts/{handle}/metrics       ?ids=a,b
    GET    /sandbox/api/faults                          the faults set
    PUT    /sandbox/api/faults                          set a fault
    DELETE /sandbox/api/faults                          clear one handle's fault (?handle=) or all
    GET    /sandbox, /sandbox/{handle}                  HTML page of what was published
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from plugins.networks.sandbox_models import (
    ACCEPT_THEN_TIMEOUT,
    APPLIES_TO_ALL,
    APPLIES_TO_PUBLISH,
    APPLIES_TO_READ,
    GLOBAL_FAULT,
    NO_FAULT,
    RATE_LIMIT,
    REJECTED,
    SERVER_ERROR,
    TIMEOUT,
    UNAUTHORIZED,
    UNTIL_CLEARED,
    SandboxFault,
    SandboxPost,
)
from services.api.deps import SessionDep
from shared.db import new_id, utcnow
from shared.problems import Problem

router = APIRouter(prefix="/sandbox", tags=["sandbox"])
templates = Jinja2Templates(directory=FilePath(__file__).parent / "templates")

MAX_LENGTH = 500  # Unicode code points (Python's len), as the adapter counts
MAX_MEDIA = 4
ALT_TEXT_MAX = 1500


# configuration --------------------------------------------------------------------------


def random_external_id() -> str:
    return f"sbx-{new_id()[:16]}"  # hex only, so a mention's id "<post id>-m..." parses back


@dataclass(frozen=True)
class SandboxConfig:
    """The server's seed, clock and ids. The api wiring (or a test) sets `app.state.sandbox`."""

    seed: str = "tamtam"
    clock: Callable[[], datetime] = utcnow
    external_ids: Callable[[], str] = random_external_id
    default_timezone: str = "Europe/Paris"


def get_sandbox_config(request: Request) -> SandboxConfig:
    config = getattr(request.app.state, "sandbox", None)
    return config if isinstance(config, SandboxConfig) else SandboxConfig()


ConfigDep = Annotated[SandboxConfig, Depends(get_sandbox_config)]
Handle = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\s*/]+$",
                             description="The account's handle on the sandbox (any name works).")]


# schemas --------------------------------------------------------------------------------


class SandboxMedia(BaseModel):
    mime_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    alt_text: str = Field(default="", max_length=ALT_TEXT_MAX)
    url: str | None = None
    size_bytes: int | None = Field(default=None, ge=0)


class SandboxPostCreate(BaseModel):
    text: str = Field(max_length=MAX_LENGTH, description="At most 500 Unicode code points.")
    media: list[SandboxMedia] = Field(default_factory=list, max_length=MAX_MEDIA)
    reply_to: str | None = Field(default=None, max_length=100,
                                 description="External id of a post or of a mention.")
    language: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64,
                                 description="The author's IANA timezone (audience rhythm).")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the text is empty")
        return text

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {name!r}") from None
        return name


class SandboxPostRead(BaseModel):
    external_id: str
    handle: str
    text: str
    media: list[dict[str, Any]]
    reply_to: str | None
    idempotency_key: str | None
    language: str | None
    created_at: datetime
    url: str


class SandboxPostPage(BaseModel):
    items: list[SandboxPostRead]


class SandboxMentionRead(BaseModel):
    external_id: str
    author: str
    text: str
    created_at: datetime
    url: str
    in_reply_to: str | None
    language: str
    post_id: str  # the sandbox post this mention is about


class SandboxMentionPage(BaseModel):
    items: list[SandboxMentionRead]
    next_cursor: str | None = Field(description="Give it back as `cursor` to continue; "
                                                "null when nothing was ever returned.")
    has_more: bool = Field(description="More mentions are already available past this page.")


class SandboxMetricsRead(BaseModel):
    external_id: str
    likes: int
    reposts: int
    replies: int
    quotes: int
    impressions: int
    observed_at: datetime


class SandboxMetricsPage(BaseModel):
    items: list[SandboxMetricsRead]
    missing: list[str] = Field(description="Requested ids this account never published.")


FaultMode = Literal["none", "rate_limit", "server_error", "timeout", "accept_then_timeout",
                    "unauthorized", "rejected"]


class SandboxFaultSet(BaseModel):
    handle: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\s*/]+$",
                               description="The handle it applies to; null for every handle.")
    mode: FaultMode
    applies_to: Literal["publish", "read", "all"] = Field(
        default="publish", description="`publish` (POST posts), `read` (every GET) or `all`.")
    count: int = Field(default=UNTIL_CLEARED, ge=-1, le=1_000_000,
                       description="How many next matching requests fail; -1 until cleared.")
    wait_s: float = Field(default=30.0, ge=0, le=600,
                          description="Retry-After of rate_limit; how long the timeouts sleep.")

    @field_validator("count")
    @classmethod
    def _not_zero(cls, count: int) -> int:
        if count == 0:
            raise ValueError("count is at least 1, or -1 for until cleared")
        return count


class SandboxFaultRead(BaseModel):
    handle: str | None
    mode: str
    applies_to: str
    remaining: int
    wait_s: float


# audience simulation (pure functions of the post, the seed and the time) ----------------

HOUR = timedelta(hours=1)
HORIZON_HOURS = 7 * 24  # a post gets no new mentions after a week
FIRST_MENTION_DELAY_S = 60  # no mention in a post's first minute (see mention_page)

# Relative activity of an audience by local hour: night lull, lunch and evening peaks.
RHYTHM = (
    0.20, 0.10, 0.05, 0.04, 0.04, 0.08, 0.20, 0.45, 0.70, 0.80, 0.80, 0.90,
    1.10, 1.00, 0.80, 0.75, 0.80, 0.95, 1.15, 1.35, 1.50, 1.30, 0.90, 0.45,
)

AUTHORS = (
    "camille_b", "julien.m", "sarah_k", "tom.r", "ines_laurent", "lea.dubois", "maxime_p",
    "chloe.v", "hugo_martin", "emma.w", "nathan_c", "olivia.j", "lucas_t", "manon.f",
    "noah_g", "jade.bernard", "leo_moreau", "amelia.s", "adam_roux", "zoe.petit",
)

MENTION_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "positive": (
            "Love this! 😍", "Great news, can't wait to try it", "This made my day, thank you!",
            "Best in town, no contest ☕", "You folks never disappoint 👏",
            "Just shared this with my friends, so good", "Yes! Finally 🙌",
        ),
        "neutral": (
            "What time do you open on Sundays?", "Is this available for delivery too?",
            "Do you have vegan options?", "How long does it last?", "Where can I find it?",
        ),
        "negative": (
            "Waited 40 minutes and my order was still wrong. Not impressed.",
            "Prices went up again? Disappointed.", "Still no answer to my email...",
            "Honestly the quality has dropped lately 😕", "Nobody picks up the phone, ever.",
        ),
    },
    "fr": {
        "positive": (
            "Trop bien, merci ! 😍", "Hâte de tester ça !",
            "Le meilleur du quartier, sans hésiter ☕",
            "Bravo à toute l'équipe 👏", "Vous êtes au top, comme toujours",
            "Partagé avec les copains, c'est génial", "Enfin ! 🙌",
        ),
        "neutral": (
            "Vous ouvrez à quelle heure le dimanche ?", "C'est dispo en livraison aussi ?",
            "Il y a des options véganes ?", "Ça dure jusqu'à quand ?", "On trouve ça où ?",
        ),
        "negative": (
            "40 minutes d'attente et commande fausse… déçu.",
            "Encore une hausse des prix ? Dommage.",
            "Toujours pas de réponse à mon mail…", "La qualité a baissé ces derniers temps 😕",
            "Personne ne répond jamais au téléphone.",
        ),
    },
}


@dataclass(frozen=True)
class AudienceProfile:
    """How a post's audience behaves, drawn once from the seed and its external id."""

    peak_per_hour: float  # expected mentions in the first hour at full activity
    decay_hours: float
    likes_per_mention: float
    reposts_per_mention: float
    quotes_per_mention: float
    impressions_per_mention: float
    reply_share: float
    negative_share: float


@dataclass(frozen=True)
class SimulatedMention:
    external_id: str
    post_id: str
    handle: str
    author: str
    text: str
    created_at: datetime
    in_reply_to: str | None
    language: str
    sentiment: str  # positive, neutral, negative (never sent: networks do not tell)

    @property
    def order(self) -> tuple[datetime, str]:
        return self.created_at, self.external_id


@dataclass(frozen=True)
class SimulatedMetrics:
    likes: int
    reposts: int
    replies: int
    quotes: int
    impressions: int


def profile_of(external_id: str, seed: str) -> AudienceProfile:
    rng = random.Random(f"{seed}|{external_id}|profile")
    return AudienceProfile(
        peak_per_hour=math.exp(rng.gauss(0.6, 0.5)),
        decay_hours=rng.uniform(4.0, 14.0),
        likes_per_mention=rng.uniform(3.0, 8.0),
        reposts_per_mention=rng.uniform(0.3, 1.2),
        quotes_per_mention=rng.uniform(0.05, 0.3),
        impressions_per_mention=rng.uniform(60.0, 180.0),
        reply_share=rng.uniform(0.4, 0.75),
        negative_share=rng.uniform(0.08, 0.3),
    )


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def expected_mentions(post: SandboxPost, profile: AudienceProfile, hour_index: int) -> float:
    """Expected mentions in the post's `hour_index`-th hour of life."""
    middle = post.created_at + hour_index * HOUR + HOUR / 2
    local_hour = middle.astimezone(zone_of(post.timezone)).hour
    return profile.peak_per_hour * math.exp(-hour_index / profile.decay_hours) * RHYTHM[local_hour]


def cumulative_activity(post: SandboxPost, profile: AudienceProfile, now: datetime) -> float:
    """Expected mentions so far: grows with age, with diminishing returns."""
    age_hours = (now - post.created_at) / HOUR
    if age_hours <= 0:
        return 0.0
    whole = min(int(age_hours), HORIZON_HOURS)
    total = sum(expected_mentions(post, profile, k) for k in range(whole))
    if whole < HORIZON_HOURS:
        total += (age_hours - whole) * expected_mentions(post, profile, whole)
    return total


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def mentions_in_hour(
    post: SandboxPost, profile: AudienceProfile, seed: str, hour_index: int
) -> list[SimulatedMention]:
    """The mentions of one hour of the post's life, from that hour's own random stream."""
    rng = random.Random(f"{seed}|{post.external_id}|{hour_index}")
    count = _poisson(rng, expected_mentions(post, profile, hour_index))
    earliest = FIRST_MENTION_DELAY_S if hour_index == 0 else 0
    offsets = sorted(rng.uniform(earliest, 3600) for _ in range(count))
    start = post.created_at + hour_index * HOUR
    french_share = {"fr": 0.75, "en": 0.25}.get((post.language or "")[:2].lower(), 0.5)
    mentions = []
    for index, offset in enumerate(offsets):
        language = "fr" if rng.random() < french_share else "en"
        draw = rng.random()
        sentiment = ("negative" if draw < profile.negative_share
                     else "neutral" if draw < profile.negative_share + 0.2 else "positive")
        is_reply = rng.random() < profile.reply_share
        text = rng.choice(MENTION_TEXTS[language][sentiment])
        mentions.append(SimulatedMention(
            external_id=f"{post.external_id}-m{hour_index:03d}{index:02d}",
            post_id=post.external_id,
            handle=post.handle,
            author=rng.choice(AUTHORS),
            text=text if is_reply else f"@{post.handle} {text}",
            created_at=start + timedelta(seconds=offset),
            in_reply_to=post.external_id if is_reply else None,
            language=language,
            sentiment=sentiment,
        ))
    return mentions


def mentions_between(
    post: SandboxPost, seed: str, after: datetime | None, until: datetime
) -> list[SimulatedMention]:
    """The post's mentions created in [after, until] (from its start when `after` is None)."""
    profile = profile_of(post.external_id, seed)
    first = 0 if after is None else max(0, int((after - post.created_at) / HOUR))
    last = min(HORIZON_HOURS - 1, math.floor((until - post.created_at) / HOUR))
    found: list[SimulatedMention] = []
    for hour_index in range(first, last + 1):
        found.extend(
            mention for mention in mentions_in_hour(post, profile, seed, hour_index)
            if mention.created_at <= until and (after is None or mention.created_at >= after)
        )
    return found


def metrics_at(post: SandboxPost, seed: str, now: datetime) -> SimulatedMetrics:
    profile = profile_of(post.external_id, seed)
    activity = cumulative_activity(post, profile, now)
    replies = sum(1 for mention in mentions_between(post, seed, None, now)
                  if mention.in_reply_to == post.external_id)
    return SimulatedMetrics(
        likes=int(activity * profile.likes_per_mention),
        reposts=int(activity * profile.reposts_per_mention),
        replies=replies,
        quotes=int(activity * profile.quotes_per_mention),
        impressions=int(activity * profile.impressions_per_mention),
    )


# mention cursors: the last mention returned, so polling resumes with no gap -------------


def encode_mention_cursor(mention: SimulatedMention) -> str:
    raw = json.dumps({"v": 1, "t": mention.created_at.isoformat(), "id": mention.external_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_mention_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        stamp = datetime.fromisoformat(raw["t"])
        if stamp.tzinfo is None:
            raise ValueError("naive time")
        return stamp, str(raw["id"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise Problem(400, "the cursor is not one this network returned",
                      kind="bad-cursor") from None


def mention_page(
    session: Session, handle: str, seed: str, cursor: str | None, now: datetime, limit: int
) -> tuple[list[SimulatedMention], str | None, bool]:
    """Mentions of `handle`'s posts after `cursor`, oldest first, as (page, next cursor, more).

    No gap: a post's mentions all come at least a minute after it, and the server's clock
    only moves forward, so a mention that becomes visible later is always after the cursor.
    """
    after = decode_mention_cursor(cursor) if cursor else None
    query = select(SandboxPost).where(SandboxPost.handle == handle, SandboxPost.created_at <= now)
    if after is not None:
        query = query.where(SandboxPost.created_at > after[0] - HORIZON_HOURS * HOUR)
    posts = list(session.scalars(query))
    if not posts:
        return [], cursor, False
    start = after[0] if after else min(post.created_at for post in posts)
    span = HOUR
    while True:  # a window that grows until it holds a page, so a page costs about a page
        until = min(now, start + span)
        found = [
            mention
            for post in posts
            for mention in mentions_between(post, seed, start if after else None, until)
            if after is None or mention.order > after
        ]
        if len(found) > limit or until >= now:
            break
        span *= 4
    found.sort(key=lambda mention: mention.order)
    page = found[:limit]
    next_cursor = encode_mention_cursor(page[-1]) if page else cursor
    return page, next_cursor, len(found) > limit


# storage --------------------------------------------------------------------------------


def content_hash(body: SandboxPostCreate) -> str:
    canonical = json.dumps(
        {"text": body.text, "media": [m.model_dump() for m in body.media],
         "reply_to": body.reply_to},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_by_key(session: Session, handle: str, idempotency_key: str) -> SandboxPost | None:
    return session.scalars(select(SandboxPost).where(
        SandboxPost.handle == handle, SandboxPost.idempotency_key == idempotency_key)).first()


def get_post(session: Session, handle: str, external_id: str) -> SandboxPost:
    post = session.scalars(select(SandboxPost).where(
        SandboxPost.handle == handle, SandboxPost.external_id == external_id)).first()
    if post is None:
        raise Problem(404, f"{handle} has no post {external_id}")
    return post


def _replayed(post: SandboxPost, digest: str) -> SandboxPost:
    if post.content_hash != digest:
        raise Problem(422, "this Idempotency-Key was already used for a different post",
                      kind="idempotency-key-reused")
    return post


def publish_post(
    session: Session, handle: str, body: SandboxPostCreate, idempotency_key: str | None,
    config: SandboxConfig,
) -> tuple[SandboxPost, bool]:
    """Store a post once per idempotency key; returns (post, created)."""
    digest = content_hash(body)
    if idempotency_key and (existing := find_by_key(session, handle, idempotency_key)):
        return _replayed(existing, digest), False
    if body.reply_to is not None:
        target = body.reply_to.split("-m", 1)[0]  # a mention's id starts with its post's
        if session.scalar(select(SandboxPost.id).where(SandboxPost.external_id == target)) is None:
            raise Problem(422, f"reply_to: there is no post or mention {body.reply_to}",
                          kind="unknown-reply-target")
    post = SandboxPost(
        handle=handle, external_id=config.external_ids(), text=body.text,
        media=[m.model_dump() for m in body.media], reply_to=body.reply_to,
        idempotency_key=idempotency_key or None, content_hash=digest, language=body.language,
        timezone=body.timezone or config.default_timezone, created_at=config.clock(),
    )
    session.add(post)
    try:
        session.commit()
    except IntegrityError:  # the same key, published concurrently: answer with that one
        session.rollback()
        if idempotency_key and (existing := find_by_key(session, handle, idempotency_key)):
            return _replayed(existing, digest), False
        raise
    return post, True


def list_posts(session: Session, handle: str | None, idempotency_key: str | None,
               limit: int) -> list[SandboxPost]:
    query = select(SandboxPost)
    if handle is not None:
        query = query.where(SandboxPost.handle == handle)
    if idempotency_key is not None:
        query = query.where(SandboxPost.idempotency_key == idempotency_key)
    query = query.order_by(SandboxPost.created_at.desc(), SandboxPost.external_id.desc())
    return list(session.scalars(query.limit(limit)))


# faults ---------------------------------------------------------------------------------


def set_fault(session: Session, body: SandboxFaultSet) -> SandboxFault:
    scope = body.handle or GLOBAL_FAULT
    fault = session.get(SandboxFault, scope) or SandboxFault(handle=scope)
    fault.mode, fault.applies_to = body.mode, body.applies_to
    fault.remaining, fault.wait_s = body.count, body.wait_s
    session.add(fault)
    session.commit()
    return fault


def clear_faults(session: Session, handle: str | None) -> None:
    query = delete(SandboxFault)
    if handle is not None:
        query = query.where(SandboxFault.handle == handle)
    session.execute(query)
    session.commit()


@dataclass(frozen=True)
class InjectedFault:
    mode: str
    wait_s: float

    async def before(self, operation: str) -> None:
        """Fail the request now, or (for timeouts) after a sleep; only a publish that is
        accepted then times out goes on."""
        if self.mode == RATE_LIMIT:
            raise Problem(429, "the sandbox simulates a rate limit", kind="rate-limited",
                          headers={"Retry-After": str(math.ceil(self.wait_s))})
        if self.mode == SERVER_ERROR:
            raise Problem(500, "the sandbox simulates a server error", kind="simulated-error")
        if self.mode == UNAUTHORIZED:
            raise Problem(401, "the sandbox simulates a revoked authorization", kind="unauthorized",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if self.mode == REJECTED:
            raise Problem(422, "the sandbox simulates a refusal of this content",
                          kind="content-rejected")
        stored_first = self.mode == ACCEPT_THEN_TIMEOUT and operation == APPLIES_TO_PUBLISH
        if self.mode in (TIMEOUT, ACCEPT_THEN_TIMEOUT) and not stored_first:
            await asyncio.sleep(self.wait_s)
            raise Problem(504, "the sandbox simulated a timeout", kind="simulated-timeout")

    async def after_accept(self) -> None:
        if self.mode == ACCEPT_THEN_TIMEOUT:
            await asyncio.sleep(self.wait_s)


def take_fault(session: Session, handle: str, operation: str) -> InjectedFault | None:
    """The fault this request suffers, counted; the handle's own fault wins over the global one
    (a handle's `none` shields it from a global fault)."""
    for scope in (handle, GLOBAL_FAULT):
        fault = session.get(SandboxFault, scope)
        if fault is None or fault.applies_to not in (operation, APPLIES_TO_ALL):
            continue
        injected = None if fault.mode == NO_FAULT else InjectedFault(fault.mode, fault.wait_s)
        if fault.remaining != UNTIL_CLEARED and not _take_one(session, scope):
            continue
        return injected
    return None


def _take_one(session: Session, scope: str) -> bool:
    # A conditional update, so two concurrent requests never both take the last one.
    taken = cast("CursorResult[Any]", session.execute(
        update(SandboxFault)
        .where(SandboxFault.handle == scope, SandboxFault.remaining > 0)
        .values(remaining=SandboxFault.remaining - 1)
    )).rowcount
    session.execute(delete(SandboxFault).where(
        SandboxFault.handle == scope, SandboxFault.remaining <= 0))
    session.commit()
    session.expire_all()
    return bool(taken)


async def publish_fault(handle: Handle, session: SessionDep) -> InjectedFault | None:
    fault = await run_in_threadpool(take_fault, session, handle, APPLIES_TO_PUBLISH)
    if fault is not None:
        await fault.before(APPLIES_TO_PUBLISH)
    return fault


async def read_fault(handle: Handle, session: SessionDep) -> None:
    fault = await run_in_threadpool(take_fault, session, handle, APPLIES_TO_READ)
    if fault is not None:
        await fault.before(APPLIES_TO_READ)


PublishFaultDep = Annotated[InjectedFault | None, Depends(publish_fault)]
ReadFault = Depends(read_fault)


# routes ---------------------------------------------------------------------------------


def page_url(request: Request, handle: str) -> str:
    return str(request.url_for("sandbox_account_page", handle=handle))


def post_read(request: Request, post: SandboxPost) -> SandboxPostRead:
    return SandboxPostRead(
        external_id=post.external_id, handle=post.handle, text=post.text, media=post.media,
        reply_to=post.reply_to, idempotency_key=post.idempotency_key, language=post.language,
        created_at=post.created_at, url=f"{page_url(request, post.handle)}#{post.external_id}",
    )


@router.post("/api/accounts/{handle}/posts", response_model=SandboxPostRead, status_code=201,
             responses={200: {"description": "A repeat of an Idempotency-Key: the original post."}})
async def create_post(
    handle: Handle, body: SandboxPostCreate, request: Request, response: Response,
    session: SessionDep, config: ConfigDep, fault: PublishFaultDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> SandboxPostRead:
    post, created = await run_in_threadpool(
        publish_post, session, handle, body, idempotency_key, config)
    answer = post_read(request, post)
    if not created:
        response.status_code = 200
    if fault is not None:
        await fault.after_accept()
    return answer


@router.get("/api/accounts/{handle}/posts", response_model=SandboxPostPage,
            dependencies=[ReadFault])
def get_posts(
    handle: Handle, request: Request, session: SessionDep,
    idempotency_key: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SandboxPostPage:
    posts = list_posts(session, handle, idempotency_key, limit)
    return SandboxPostPage(items=[post_read(request, post) for post in posts])


@router.get("/api/accounts/{handle}/posts/{external_id}", response_model=SandboxPostRead,
            dependencies=[ReadFault])
def get_one_post(handle: Handle, external_id: str, request: Request,
                 session: SessionDep) -> SandboxPostRead:
    return post_read(request, get_post(session, handle, external_id))


@router.get("/api/accounts/{handle}/mentions", response_model=SandboxMentionPage,
            dependencies=[ReadFault])
def get_mentions(
    handle: Handle, request: Request, session: SessionDep, config: ConfigDep,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SandboxMentionPage:
    page, next_cursor, has_more = mention_page(
        session, handle, config.seed, cursor, config.clock(), limit)
    url = page_url(request, handle)
    return SandboxMentionPage(
        items=[SandboxMentionRead(
            external_id=m.external_id, author=m.author, text=m.text, created_at=m.created_at,
            url=f"{url}#{m.external_id}", in_reply_to=m.in_reply_to, language=m.language,
            post_id=m.post_id,
        ) for m in page],
        next_cursor=next_cursor, has_more=has_more,
    )


@router.get("/api/accounts/{handle}/metrics", response_model=SandboxMetricsPage,
            dependencies=[ReadFault])
def get_metrics(
    handle: Handle, session: SessionDep, config: ConfigDep,
    ids: Annotated[str, Query(description="Comma-separated external ids, at most 100.")],
) -> SandboxMetricsPage:
    wanted = list(dict.fromkeys(part.strip() for part in ids.split(",") if part.strip()))
    if len(wanted) > 100:
        raise Problem(400, "at most 100 ids at once", kind="too-many-ids")
    posts = {post.external_id: post for post in session.scalars(select(SandboxPost).where(
        SandboxPost.handle == handle, SandboxPost.external_id.in_(wanted)))}
    now = config.clock()
    items = []
    for external_id in wanted:
        if external_id in posts:
            metrics = metrics_at(posts[external_id], config.seed, now)
            items.append(SandboxMetricsRead(external_id=external_id, observed_at=now,
                                            **asdict(metrics)))
    return SandboxMetricsPage(items=items, missing=[i for i in wanted if i not in posts])


def fault_read(fault: SandboxFault) -> SandboxFaultRead:
    return SandboxFaultRead(
        handle=None if fault.handle == GLOBAL_FAULT else fault.handle, mode=fault.mode,
        applies_to=fault.applies_to, remaining=fault.remaining, wait_s=fault.wait_s,
    )


@router.get("/api/faults", response_model=list[SandboxFaultRead])
def get_faults(session: SessionDep) -> list[SandboxFaultRead]:
    return [fault_read(fault) for fault in session.scalars(select(SandboxFault))]


@router.put("/api/faults", response_model=SandboxFaultRead)
def put_fault(body: SandboxFaultSet, session: SessionDep) -> SandboxFaultRead:
    return fault_read(set_fault(session, body))


@router.delete("/api/faults", status_code=204)
def delete_faults(
    session: SessionDep,
    handle: Annotated[str | None, Query(description="Clear this handle's fault only; "
                                                    "without it, every fault.")] = None,
) -> Response:
    clear_faults(session, handle)
    return Response(status_code=204)


# the HTML page --------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Sandbox — local test network",
        "banner": "This is Tamtam's test network. Nothing here is published on a real social "
                  "network; mentions and engagement are simulated.",
        "posts": "Published posts, newest first", "all": "All accounts",
        "empty": "Nothing published yet.",
        "likes": "likes", "reposts": "reposts", "replies": "replies", "quotes": "quotes",
        "impressions": "impressions", "mentions": "Latest mentions", "reply_to": "In reply to",
        "media": "images", "published": "Published",
    },
    "fr": {
        "title": "Bac à sable — réseau de test local",
        "banner": "Ceci est le réseau de test de Tamtam. Rien ici n'est publié sur un vrai réseau "
                  "social ; les mentions et l'engagement sont simulés.",
        "posts": "Publications, les plus récentes d'abord", "all": "Tous les comptes",
        "empty": "Rien n'est encore publié.", "likes": "j'aime", "reposts": "partages",
        "replies": "réponses", "quotes": "citations", "impressions": "impressions",
        "mentions": "Dernières mentions", "reply_to": "En réponse à", "media": "images",
        "published": "Publié le",
    },
}


PageLanguage = Annotated[str | None, Query(pattern="^(fr|en)$",
                                          description="fr or en; else from Accept-Language.")]


def page_language(lang: str | None, accept_language: str | None) -> str:
    """`?lang=` first, then the best of French and English in Accept-Language, else English."""
    if lang in LABELS:
        return lang
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.split("-")[0].lower()
        if primary in LABELS and quality > 0:
            ranked.append((quality, -position, primary))
    return max(ranked)[2] if ranked else "en"


def render_page(request: Request, session: Session, config: SandboxConfig, handle: str | None,
                lang: str | None) -> HTMLResponse:
    language = page_language(lang, request.headers.get("accept-language"))
    now = config.clock()
    entries = []
    for post in list_posts(session, handle, None, limit=100):
        mentions = mentions_between(post, config.seed, None, now)
        entries.append({
            "post": post, "metrics": metrics_at(post, config.seed, now), "mentions": mentions[-3:],
            "local_time": post.created_at.astimezone(zone_of(post.timezone)),
            "page_url": page_url(request, post.handle),
        })
    return templates.TemplateResponse(request, "sandbox.html", {
        "labels": LABELS[language], "lang": language, "handle": handle, "entries": entries,
        "home_url": str(request.url_for("sandbox_page")),
    })


@router.get("", response_class=HTMLResponse, name="sandbox_page")
def sandbox_page(request: Request, session: SessionDep, config: ConfigDep,
                 lang: PageLanguage = None) -> HTMLResponse:
    return render_page(request, session, config, None, lang)


@router.get("/{handle}", response_class=HTMLResponse, name="sandbox_account_page")
def sandbox_account_page(handle: Handle, request: Request, session: SessionDep, config: ConfigDep,
                         lang: PageLanguage = None) -> HTMLResponse:
    return render_page(request, session, config, handle, lang)
