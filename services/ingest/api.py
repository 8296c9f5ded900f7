"""HTTP routes of the ingest service (mounted by the api process): network webhooks, trend
signals, watch-lists, feeds, mentions, trends, crisis alerts and engagement insights.
Thin: each route checks the caller and calls the ingest functions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.exc import IntegrityError

from services.api.deps import ContextDep, PrincipalDep, SessionDep, commit_and_publish
from services.ingest import insights, schemas, trends, webhooks
from services.ingest.mentions import Origin, store_mentions
from services.ingest.models import CrisisAlert, Feed, Mention, Trend, WatchTerm
from shared.db import get_owned, tenant_select, utcnow
from shared.models import Brand, SocialAccount
from shared.netguard import AllowList, BlockedAddress, vet_url
from shared.pagination import page_of, paginate
from shared.problems import Problem

router = APIRouter(prefix="/v1", tags=["ingest"])
WRITERS = ("admin", "editor")
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
MAX_WEBHOOK_BYTES = 1_000_000


def _brand(session: SessionDep, principal: PrincipalDep, brand_id: str) -> Brand:
    return get_owned(session, Brand, brand_id, principal.agency_id)


# --- webhooks ---------------------------------------------------------------------------


def _webhook_account(session: SessionDep, network: str, account_id: str) -> SocialAccount:
    account = session.get(SocialAccount, account_id)
    if account is None or account.network != network:
        raise Problem(404, f"no {network} account {account_id}")
    return account


@router.post("/inbound/{network}/{account_id}", response_model=schemas.WebhookAccepted,
             tags=["webhooks"])
async def receive_webhook(network: str, account_id: str, request: Request, session: SessionDep,
                          context: ContextDep) -> schemas.WebhookAccepted:
    """A network pushes mentions; the signature is checked with the account's secret."""
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise Problem(413, "webhook body too large")
    account = _webhook_account(session, network, account_id)
    credentials = (context.extras["secrets"].open(account.credentials_encrypted)
                   if account.credentials_encrypted else {})
    try:
        webhooks.verify(network, credentials, dict(request.headers), body)
    except webhooks.SignatureError as error:
        raise Problem(401, str(error), kind="bad-signature") from None
    try:
        payload = json.loads(body)
    except ValueError:
        raise Problem(400, "the body is not JSON", kind="bad-body") from None
    incoming = webhooks.parse(network, payload if isinstance(payload, dict) else {})
    origin = Origin(account.agency_id, account.brand_id, account.id, network)
    try:
        events = store_mentions(session, origin, incoming, source="webhook")
        context.publisher.stage(session, events)
        commit_and_publish(session, context)
    except IntegrityError:  # the same mention arrived by the poller at the same moment
        session.rollback()
        events = []
    return schemas.WebhookAccepted(received=len(incoming), new=len(events))


@router.get("/inbound/{network}/{account_id}", response_class=PlainTextResponse,
            tags=["webhooks"])
def verify_webhook_subscription(
    network: str, account_id: str, session: SessionDep, context: ContextDep,
    mode: Annotated[str, Query(alias="hub.mode")] = "",
    token: Annotated[str, Query(alias="hub.verify_token")] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)] = "",
) -> str:
    """Meta's subscription handshake: echo hub.challenge when the verify token matches."""
    account = _webhook_account(session, network, account_id)
    credentials = (context.extras["secrets"].open(account.credentials_encrypted)
                   if account.credentials_encrypted else {})
    expected = str(credentials.get("verify_token") or "")
    if mode != "subscribe" or not expected or token != expected:
        raise Problem(403, "hub.verify_token does not match", kind="bad-verify-token")
    return challenge


# --- signals ----------------------------------------------------------------------------


@router.post("/signals", response_model=schemas.SignalAccepted, status_code=202,
             tags=["trends"])
def receive_signals(body: schemas.SignalCreate, principal: PrincipalDep, session: SessionDep,
                    context: ContextDep) -> schemas.SignalAccepted:
    """Trend signals from anywhere (a social listening tool, a newsletter, a spreadsheet)."""
    principal.require(*WRITERS)
    _brand(session, principal, body.brand_id)
    now = utcnow()
    events = []
    for item in body.items:
        moment = item.observed_at or now
        moment = min(moment if moment.tzinfo else moment.replace(tzinfo=UTC), now)
        events += trends.observe_item(
            session, agency_id=principal.agency_id, brand_id=body.brand_id, text=item.text,
            moment=moment, source=f"signal:{body.source}", origin="ingest")
    context.publisher.stage(session, events)
    commit_and_publish(session, context)
    return schemas.SignalAccepted(accepted=len(body.items),
                                  trends=[event.data.term for event in events])  # type: ignore[attr-defined]


# --- watch-lists ------------------------------------------------------------------------


@router.get("/brands/{brand_id}/watch-terms", response_model=schemas.WatchTermPage,
            tags=["trends"])
def list_watch_terms(brand_id: str, principal: PrincipalDep, session: SessionDep):
    _brand(session, principal, brand_id)
    rows = session.scalars(tenant_select(WatchTerm, principal.agency_id)
                           .where(WatchTerm.brand_id == brand_id).order_by(WatchTerm.term))
    return schemas.WatchTermPage(items=list(rows))


@router.post("/brands/{brand_id}/watch-terms", response_model=schemas.WatchTermRead,
             status_code=201, tags=["trends"])
def add_watch_term(brand_id: str, body: schemas.WatchTermCreate, principal: PrincipalDep,
                   session: SessionDep):
    principal.require(*WRITERS)
    _brand(session, principal, brand_id)
    term = body.term.lower().lstrip("#") if body.kind == "hashtag" else body.term.lower()
    row = WatchTerm(agency_id=principal.agency_id, brand_id=brand_id, kind=body.kind, term=term)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Problem(409, f"{body.kind} {term!r} is already watched", kind="duplicate") from None
    return row


@router.delete("/brands/{brand_id}/watch-terms/{term_id}", status_code=204, tags=["trends"])
def delete_watch_term(brand_id: str, term_id: str, principal: PrincipalDep,
                      session: SessionDep) -> Response:
    principal.require(*WRITERS)
    row = get_owned(session, WatchTerm, term_id, principal.agency_id)
    if row.brand_id != brand_id:
        raise Problem(404, f"watchterm {term_id} not found")
    session.delete(row)
    session.commit()
    return Response(status_code=204)


# --- feeds ------------------------------------------------------------------------------


@router.get("/brands/{brand_id}/feeds", response_model=schemas.FeedPage, tags=["trends"])
def list_feeds(brand_id: str, principal: PrincipalDep, session: SessionDep):
    _brand(session, principal, brand_id)
    rows = session.scalars(tenant_select(Feed, principal.agency_id)
                           .where(Feed.brand_id == brand_id).order_by(Feed.created_at))
    return schemas.FeedPage(items=list(rows))


@router.post("/brands/{brand_id}/feeds", response_model=schemas.FeedRead, status_code=201,
             tags=["trends"])
def add_feed(brand_id: str, body: schemas.FeedCreate, principal: PrincipalDep,
             session: SessionDep, context: ContextDep):
    """Follow an RSS/Atom feed. URLs that lead to private addresses are refused (SSRF)."""
    principal.require(*WRITERS)
    _brand(session, principal, brand_id)
    try:
        vet_url(body.url, AllowList.parse(context.settings.fetch_allow_networks))
    except BlockedAddress as error:
        raise Problem(422, f"this feed URL cannot be fetched: {error}",
                      kind="url-refused") from None
    row = Feed(agency_id=principal.agency_id, brand_id=brand_id, url=body.url)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Problem(409, "this feed is already followed", kind="duplicate") from None
    return row


@router.delete("/brands/{brand_id}/feeds/{feed_id}", status_code=204, tags=["trends"])
def delete_feed(brand_id: str, feed_id: str, principal: PrincipalDep,
                session: SessionDep) -> Response:
    principal.require(*WRITERS)
    row = get_owned(session, Feed, feed_id, principal.agency_id)
    if row.brand_id != brand_id:
        raise Problem(404, f"feed {feed_id} not found")
    session.delete(row)
    session.commit()
    return Response(status_code=204)


# --- mentions, trends, alerts -----------------------------------------------------------


@router.get("/brands/{brand_id}/mentions", response_model=schemas.MentionPage, tags=["mentions"])
def list_mentions(brand_id: str, principal: PrincipalDep, session: SessionDep,
                  sentiment: Literal["negative", "neutral", "positive"] | None = None,
                  cursor: Cursor = None, limit: Limit = 50):
    _brand(session, principal, brand_id)
    query = tenant_select(Mention, principal.agency_id).where(Mention.brand_id == brand_id)
    if sentiment:
        query = query.where(Mention.sentiment_label == sentiment)
    rows, next_cursor = page_of(list(session.scalars(paginate(query, Mention, cursor, limit))),
                                limit)
    return schemas.MentionPage(items=rows, next_cursor=next_cursor)


@router.get("/brands/{brand_id}/trends", response_model=schemas.TrendPage, tags=["trends"])
def list_trends(brand_id: str, principal: PrincipalDep, session: SessionDep,
                cursor: Cursor = None, limit: Limit = 50):
    _brand(session, principal, brand_id)
    query = tenant_select(Trend, principal.agency_id).where(Trend.brand_id == brand_id)
    rows, next_cursor = page_of(list(session.scalars(paginate(query, Trend, cursor, limit))),
                                limit)
    return schemas.TrendPage(items=rows, next_cursor=next_cursor)


@router.get("/brands/{brand_id}/alerts", response_model=schemas.CrisisAlertPage, tags=["crisis"])
def list_alerts(brand_id: str, principal: PrincipalDep, session: SessionDep, limit: Limit = 50):
    _brand(session, principal, brand_id)
    rows = session.scalars(tenant_select(CrisisAlert, principal.agency_id)
                           .where(CrisisAlert.brand_id == brand_id)
                           .order_by(CrisisAlert.raised_at.desc()).limit(limit))
    return schemas.CrisisAlertPage(items=list(rows))


# --- insights ---------------------------------------------------------------------------


def _csv(posts: list[insights.PostEngagement], brand_id: str) -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(insights.to_csv(posts), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="insights-{brand_id}-{stamp}.csv"'})


@router.get("/brands/{brand_id}/insights", tags=["insights"])
def get_insights(brand_id: str, principal: PrincipalDep, session: SessionDep,
                 format: Literal["json", "csv"] = "json"):
    """Engagement per post (normalised by impressions, else audience) and its breakdowns by
    content type, hashtag, hour of week and network; `?format=csv` for a spreadsheet."""
    _brand(session, principal, brand_id)
    posts = insights.post_engagements(session, principal.agency_id, brand_id)
    if format == "csv":
        return _csv(posts, brand_id)
    rated = [p.rate for p in posts if p.rate is not None]
    return {
        "brand_id": brand_id, "posts": len(posts), "measured": len(rated),
        "median_engagement": round(sorted(rated)[len(rated) // 2], 5) if rated else None,
        "breakdowns": insights.breakdowns(posts),
        "recommendations": insights.recommendations(posts),
    }


@router.get("/brands/{brand_id}/insights.csv", tags=["insights"])
def get_insights_csv(brand_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    _brand(session, principal, brand_id)
    return _csv(insights.post_engagements(session, principal.agency_id, brand_id), brand_id)


@router.get("/brands/{brand_id}/recommendations", tags=["insights"])
def get_recommendations(brand_id: str, principal: PrincipalDep, session: SessionDep):
    """What worked best, in French and English, with how many posts and how confidently."""
    _brand(session, principal, brand_id)
    posts = insights.post_engagements(session, principal.agency_id, brand_id)
    return {"brand_id": brand_id, "items": insights.recommendations(posts)}


@router.get("/brands/{brand_id}/insights/chart.svg", tags=["insights"],
            response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def get_insights_chart(
    brand_id: str, principal: PrincipalDep, session: SessionDep,
    by: Literal["content_type", "network", "hashtag", "hour_of_week"] = "content_type",
    lang: Literal["en", "fr"] = "en",
) -> Response:
    """Median engagement per group as an SVG bar chart (for the web pages)."""
    _brand(session, principal, brand_id)
    posts = insights.post_engagements(session, principal.agency_id, brand_id)
    return Response(insights.chart_svg(posts, by, lang), media_type="image/svg+xml")
