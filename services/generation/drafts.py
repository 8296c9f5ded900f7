"""From a brief to drafts: one `DraftCreated` per kept variant per target network.

The brand's provider chain writes the variants; each variant gets its ranked hashtags, is
fitted to each network (its validator decides), checked by the guardrails, stored and
announced. A variant that cannot be made to fit a network is dropped with the reasons.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from plugins.ai.base import HashtagOut
from plugins.networks import UnknownNetwork
from plugins.networks.base import NetworkAdapter
from services.generation import guardrails, hashtags
from services.generation.ai import BrandAI
from services.generation.fitting import Dropped, fit, split_trailing_hashtags
from services.generation.models import Brief, Draft, DroppedVariant
from services.generation.prompts import draft_prompt
from services.generation.runs import GenerationDeps, run_generation
from services.generation.voice import BrandVoice
from shared.db import new_id
from shared.events import DraftCreated, Event, GenerationRequested, new_event
from shared.models import Brand

SOURCE = "generation"


def brief_of(session: Session, agency_id: str, request: GenerationRequested) -> Brief:
    """The brief the api stored; created from the event when it came from elsewhere."""
    brief = session.get(Brief, request.brief_id)
    if brief is None:
        brief = Brief(
            id=request.brief_id,
            agency_id=agency_id,
            brand_id=request.brand_id,
            goal=request.goal,
            topic=request.topic,
            key_message=request.key_message,
            links=list(request.links),
            networks=list(request.networks),
            language=request.language,
            tone=request.tone,
            variants=request.variants,
            call_to_action=request.call_to_action,
            window_start=request.window_start,
            window_end=request.window_end,
        )
        session.add(brief)
        session.flush()
    return brief


def brief_facts(request: GenerationRequested) -> dict[str, Any]:
    return {
        "goal": request.goal,
        "topic": request.topic,
        "key_message": request.key_message,
        "links": list(request.links),
        "call_to_action": request.call_to_action,
        "tone": request.tone,
        "variants": request.variants,
        "networks": list(request.networks),
        "language": request.language,
        "window": {"start": request.window_start, "end": request.window_end},
    }


def _fail(brief: Brief, reason: str) -> list[Event]:
    brief.status, brief.failure_reason = "failed", reason[:4000]
    return []


def generate_drafts(event: Event, session: Session, deps: GenerationDeps) -> list[Event]:
    request: GenerationRequested = event.data  # type: ignore[assignment]
    brief = brief_of(session, event.tenant, request)
    if brief.agency_id != event.tenant or brief.status != "pending":
        return []
    brand = session.get(Brand, request.brand_id)
    if brand is None or brand.agency_id != event.tenant:
        return _fail(brief, f"brand {request.brand_id} not found")
    voice = BrandVoice.of(brand)
    try:
        brand_ai = BrandAI.of(brand)
    except ValueError as error:
        return _fail(brief, str(error))
    language = request.language if request.language in ("fr", "en") else "fr"
    facts = {**brief_facts(request), "brand": brand.name, "voice": voice.as_facts()}
    prompt = draft_prompt(brand.name, voice, brief_facts(request), language)
    generation, failures = run_generation(
        session,
        deps,
        agency_id=event.tenant,
        brand_id=brand.id,
        brand_ai=brand_ai,
        prompt=prompt,
        task="draft",
        language=language,
        facts=facts,
        brief_id=brief.id,
    )
    if generation is None:
        return _fail(brief, "; ".join(failures) or "no AI provider answered")

    adapters: dict[str, NetworkAdapter] = {}
    events: list[Event] = []
    for network in request.networks:
        try:
            adapters[network] = deps.adapter(network)
        except UnknownNetwork as error:
            session.add(
                DroppedVariant(
                    agency_id=event.tenant,
                    brief_id=brief.id,
                    network=network,
                    variant=-1,
                    reasons=[str(error)],
                )
            )
    for index, variant in enumerate(generation.output.variants[: request.variants]):
        body, extra_tags = split_trailing_hashtags(variant.text)
        suggested = [*generation.output.hashtags, *(HashtagOut(tag=t) for t in extra_tags)]
        ranked = hashtags.rank(
            session, event.tenant, brand.id, " ".join([body, request.topic]), suggested, language
        )
        for network, adapter in adapters.items():
            fitted = fit(adapter, body, ranked, hashtags.budget(adapter), language)
            if isinstance(fitted, Dropped):
                session.add(
                    DroppedVariant(
                        agency_id=event.tenant,
                        brief_id=brief.id,
                        network=network,
                        variant=index,
                        text=body,
                        reasons=fitted.reasons,
                    )
                )
                continue
            assessment = guardrails.check(
                fitted.text,
                voice,
                language,
                brand_ai.risk_threshold,
                model_risk=generation.output.risk,
            )
            draft = Draft(
                id=new_id(),
                agency_id=event.tenant,
                brand_id=brand.id,
                kind="post",
                brief_id=brief.id,
                network=network,
                variant=index,
                language=language,
                text=fitted.text,
                description=variant.description,
                hashtags=[h.model_dump() for h in fitted.hashtags],
                risk_score=assessment.score,
                risk_reasons=[r.model_dump() for r in assessment.reasons],
                needs_person=assessment.needs_person,
                provider=generation.provider,
                model=generation.model,
            )
            session.add(draft)
            events.append(
                new_event(
                    DraftCreated(
                        brand_id=brand.id,
                        draft_id=draft.id,
                        kind="post",
                        brief_id=brief.id,
                        network=network,
                        variant=index,
                        language=language,
                        text=fitted.text,
                        description=variant.description,
                        hashtags=fitted.hashtags,
                        risk_score=assessment.score,
                        risk_reasons=assessment.reasons,
                        needs_person=assessment.needs_person,
                        provider=generation.provider,
                        model=generation.model,
                    ),
                    tenant=event.tenant,
                    source=SOURCE,
                    subject=draft.id,
                )
            )
    if not events:
        return _fail(brief, "no variant fits any of the networks (see the dropped variants)")
    brief.status, brief.failure_reason = "ready", ""
    return events
