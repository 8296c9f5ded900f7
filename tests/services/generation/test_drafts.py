"""The brief handler, called directly: drafts per variant per network that pass each
network's validator, ranked hashtags within each network's norms, dropped variants with
reasons, every run recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from plugins.networks.base import OutgoingPost
from services.generation import hashtags
from services.generation.models import Brief, Draft, DroppedVariant, GenerationRun
from shared.events import DraftCreated, MetricsObserved, TrendDetected, new_event

from .conftest import brief_event, handle


def _validate(networks, network: str, text: str, language: str) -> list:
    return networks.create(network).validate(OutgoingPost(text=text, language=language))


def test_a_french_brief_becomes_one_valid_draft_per_variant_and_network(
    handlers, session_factory, session, tenant, networks
):
    events = handle(handlers, session_factory, brief_event(tenant))
    assert len(events) == 6 and all(isinstance(e.data, DraftCreated) for e in events)
    assert {(e.data.variant, e.data.network) for e in events} == {
        (v, n) for v in (0, 1) for n in ("sandbox", "mastodon", "x")
    }
    for event in events:
        draft = event.data
        assert event.tenant == tenant.agency_id and draft.brief_id == "b" * 32
        assert draft.language == "fr" and draft.kind == "post"
        assert _validate(networks, draft.network, draft.text, "fr") == []
        assert "https://example.com/pain-au-levain" in draft.text
        assert len(draft.hashtags) <= hashtags.budget(networks.create(draft.network))
        assert all(f"#{h.tag}" in draft.text for h in draft.hashtags)
        assert draft.description and draft.provider == "local"
        assert not draft.needs_person
    brief = session.get(Brief, "b" * 32)
    assert brief.status == "ready"
    assert session.scalar(select(Draft).where(Draft.id == events[0].data.draft_id)) is not None
    runs = session.scalars(select(GenerationRun)).all()
    assert [(r.provider, r.outcome, r.prompt) for r in runs] == [("local", "ok", "draft.v1.fr")]
    assert runs[0].output_tokens > 0 and runs[0].cost == 0


def test_an_english_brief_gives_english_drafts(handlers, session_factory, tenant, networks):
    events = handle(
        handlers,
        session_factory,
        brief_event(
            tenant,
            language="en",
            topic="sourdough",
            networks=["bluesky", "x"],
            key_message="Our sourdough comes out of the oven every morning at 7",
            call_to_action="Come and taste it",
        ),
    )
    assert len(events) == 4
    for event in events:
        assert event.data.language == "en"
        assert "Come and taste it" in event.data.text
        assert _validate(networks, event.data.network, event.data.text, "en") == []


def test_x_gets_fewer_hashtags_than_instagram_norms_allow(networks):
    assert hashtags.budget(networks.create("x")) < hashtags.budget(networks.create("instagram"))
    assert hashtags.budget(networks.create("instagram")) <= 30


def test_a_variant_that_cannot_fit_is_dropped_with_the_reason(
    handlers, session_factory, session, tenant
):
    events = handle(
        handlers, session_factory, brief_event(tenant, networks=["sandbox", "instagram"])
    )
    assert {e.data.network for e in events} == {"sandbox"}
    dropped = session.scalars(select(DroppedVariant)).all()
    assert {(d.network, d.variant) for d in dropped} == {("instagram", 0), ("instagram", 1)}
    assert all("Instagram" in reason for d in dropped for reason in d.reasons)


def test_a_long_text_is_shortened_to_fit_x_and_still_keeps_its_link(
    handlers, session_factory, tenant, networks
):
    long_message = (
        "Notre pain au levain naturel, pétri à la main par notre équipe et cuit au "
        "feu de bois, sort du four chaque matin à sept heures, avec une croûte "
        "dorée, une mie alvéolée et un goût légèrement acidulé que nos clients "
        "adorent depuis trente ans dans tout le quartier et bien au-delà"
    )
    events = handle(
        handlers,
        session_factory,
        brief_event(tenant, key_message=long_message, networks=["x", "linkedin"]),
    )
    x_drafts = [e.data for e in events if e.data.network == "x"]
    linkedin = [e.data for e in events if e.data.network == "linkedin"]
    assert x_drafts and linkedin
    for draft in x_drafts:
        assert _validate(networks, "x", draft.text, "fr") == []
        assert "https://example.com/pain-au-levain" in draft.text
        assert len(draft.text) < len(linkedin[0].text)


def test_a_link_too_long_for_bluesky_drops_the_variant_there_only(
    handlers, session_factory, session, tenant
):
    link = "https://example.com/" + "tres-long-" * 40
    events = handle(
        handlers,
        session_factory,
        brief_event(tenant, links=[link], networks=["bluesky", "sandbox"], variants=1),
    )
    assert [e.data.network for e in events] == ["sandbox"]
    dropped = session.scalars(select(DroppedVariant)).one()
    assert dropped.network == "bluesky" and "Bluesky" in dropped.reasons[0]


def test_banned_terms_make_a_draft_need_a_person(handlers, session_factory, tenant):
    events = handle(
        handlers,
        session_factory,
        brief_event(
            tenant, key_message="Nos croissants pas cher sont de retour", networks=["sandbox"]
        ),
    )
    for event in events:
        assert event.data.needs_person
        assert any(r.code == "banned_term" for r in event.data.risk_reasons)
        reason = next(r for r in event.data.risk_reasons if r.code == "banned_term")
        assert event.data.text[reason.start : reason.end].lower() == "pas cher"


def test_trend_momentum_and_past_engagement_raise_a_hashtag(
    handlers, session_factory, session, tenant
):
    baseline = handle(handlers, session_factory, brief_event(tenant, networks=["sandbox"]))
    before = {h.tag: h for h in baseline[0].data.hashtags}
    observed = datetime(2026, 5, 1, tzinfo=UTC)
    learn = [
        new_event(
            TrendDetected(brand_id=tenant.brand_id, term="levain", score=5.0, momentum=4.0),
            tenant=tenant.agency_id,
            source="ingest",
        )
    ]
    for index, (tags, likes) in enumerate([(["Levain"], 90), ([], 5), (["Boulangerie"], 10)]):
        learn.append(
            new_event(
                MetricsObserved(
                    brand_id=tenant.brand_id,
                    account_id=tenant.account_id,
                    network="sandbox",
                    external_id=f"p{index}",
                    likes=likes,
                    observed_at=observed,
                    hashtags=tags,
                ),
                tenant=tenant.agency_id,
                source="ingest",
            )
        )
    for event in learn:
        assert handle(handlers, session_factory, event) == []
    after = handle(
        handlers, session_factory, brief_event(tenant, brief_id="c" * 32, networks=["sandbox"])
    )
    ranked = {h.tag: h for h in after[0].data.hashtags}
    assert "Levain" in ranked and "Levain" in before
    assert ranked["Levain"].score > before["Levain"].score
    assert "tendance" in ranked["Levain"].why and "engagement passé" in ranked["Levain"].why
    assert "pas d'historique" in before["Levain"].why
    assert list(ranked)[0] == "Levain"


def test_the_same_brief_is_not_drafted_twice(handlers, session_factory, tenant):
    event = brief_event(tenant)
    assert handle(handlers, session_factory, event)
    assert handle(handlers, session_factory, event) == []


def test_an_unknown_brand_fails_the_brief(handlers, session_factory, session, tenant):
    event = brief_event(tenant)
    payload = event.data.model_copy(update={"brand_id": "nope"})
    event = event.model_copy(update={"data": payload})
    assert handle(handlers, session_factory, event) == []
    brief = session.get(Brief, "b" * 32)
    assert brief.status == "failed" and "not found" in brief.failure_reason
