"""HTTP routes of the generation service (mounted by the api process): briefs and guardrail
checks. Thin: each route checks the caller and calls the generation functions."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from services.api.deps import ContextDep, PrincipalDep, SessionDep, commit_and_publish
from services.generation import guardrails
from services.generation.ai import BrandAI
from services.generation.models import Brief, Draft, DroppedVariant, GenerationRun
from services.generation.replies import detect_language
from services.generation.schemas import (
    BriefAccepted,
    BriefCreate,
    BriefRead,
    DraftRead,
    DroppedRead,
    GuardrailCheck,
    GuardrailResult,
    RunRead,
)
from services.generation.voice import BrandVoice
from shared.db import get_owned, new_id
from shared.events import GenerationRequested, new_event
from shared.models import Brand
from shared.problems import Problem

router = APIRouter(prefix="/v1", tags=["generation"])
WRITERS = ("admin", "editor")


@router.post(
    "/briefs",
    status_code=202,
    response_model=BriefAccepted,
    summary="Ask for drafts: variants for each network, ready for review",
)
def create_brief(
    body: BriefCreate,
    principal: PrincipalDep,
    session: SessionDep,
    context: ContextDep,
    response: Response,
) -> BriefAccepted:
    principal.require(*WRITERS)
    brand = get_owned(session, Brand, body.brand_id, principal.agency_id)
    known = context.extras["networks"].names()
    unknown = [n for n in body.networks if n not in known]
    if unknown:
        raise Problem(
            422, f"unknown networks {unknown}; known: {', '.join(known)}", kind="unknown-network"
        )
    window = body.window
    brief = Brief(
        id=new_id(),
        agency_id=principal.agency_id,
        brand_id=brand.id,
        goal=body.goal,
        topic=body.topic,
        key_message=body.key_message,
        links=body.links,
        networks=body.networks,
        language=body.language,
        tone=body.tone,
        variants=body.variants,
        call_to_action=body.call_to_action,
        window_start=window.start if window else None,
        window_end=window.end if window else None,
        created_by=principal.actor,
    )
    session.add(brief)
    event = new_event(
        GenerationRequested(
            brand_id=brand.id,
            brief_id=brief.id,
            goal=body.goal,
            topic=body.topic,
            key_message=body.key_message,
            links=body.links,
            networks=body.networks,
            language=body.language,
            tone=body.tone,
            variants=body.variants,
            call_to_action=body.call_to_action,
            window_start=brief.window_start,
            window_end=brief.window_end,
        ),
        tenant=principal.agency_id,
        source="api",
        subject=brief.id,
    )
    context.publisher.stage(session, [event])
    commit_and_publish(session, context)
    response.headers["Location"] = f"/v1/briefs/{brief.id}"
    return BriefAccepted(id=brief.id, status=brief.status)


@router.get(
    "/briefs/{brief_id}",
    response_model=BriefRead,
    summary="A brief: its status and, once ready, its drafts and dropped variants",
)
def read_brief(brief_id: str, principal: PrincipalDep, session: SessionDep) -> BriefRead:
    brief = get_owned(session, Brief, brief_id, principal.agency_id)
    drafts = session.scalars(
        select(Draft)
        .where(Draft.agency_id == principal.agency_id, Draft.brief_id == brief.id)
        .order_by(Draft.variant, Draft.network)
    ).all()
    dropped = session.scalars(
        select(DroppedVariant)
        .where(DroppedVariant.agency_id == principal.agency_id, DroppedVariant.brief_id == brief.id)
        .order_by(DroppedVariant.variant, DroppedVariant.network)
    ).all()
    runs = session.scalars(
        select(GenerationRun)
        .where(GenerationRun.agency_id == principal.agency_id, GenerationRun.brief_id == brief.id)
        .order_by(GenerationRun.created_at)
    ).all()
    read = BriefRead.model_validate(brief)
    return read.model_copy(
        update={
            "drafts": [DraftRead.model_validate(d) for d in drafts],
            "dropped": [DroppedRead.model_validate(d) for d in dropped],
            "runs": [RunRead.model_validate(r) for r in runs],
        }
    )


@router.post(
    "/guardrails/check",
    response_model=GuardrailResult,
    summary="How risky a text is for a brand, why, and where",
)
def check_text(
    body: GuardrailCheck, principal: PrincipalDep, session: SessionDep
) -> GuardrailResult:
    brand = get_owned(session, Brand, body.brand_id, principal.agency_id)
    try:
        threshold = BrandAI.of(brand).risk_threshold
    except ValueError:
        threshold = guardrails.DEFAULT_THRESHOLD
    language = (
        body.language
        or detect_language(body.text)
        or next((lang for lang in brand.languages or [] if lang in ("fr", "en")), "fr")
    )
    assessment = guardrails.check(body.text, BrandVoice.of(brand), language, threshold)
    return GuardrailResult(
        score=assessment.score,
        verdict=assessment.verdict,
        threshold=threshold,
        language=language,
        reasons=assessment.reasons,
    )
