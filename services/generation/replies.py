"""Reply suggestions for a mention: drafts of kind "reply", in the mention's language and the
brand's voice. The mention's text reaches the model only as quoted data (see prompts.py).
A reply to a negative or sensitive mention always needs a person."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from plugins.networks import UnknownNetwork
from services.generation import guardrails
from services.generation.ai import BrandAI
from services.generation.fitting import Dropped, fit, split_trailing_hashtags
from services.generation.models import Draft, DroppedVariant
from services.generation.prompts import reply_prompt
from services.generation.runs import GenerationDeps, run_generation
from services.generation.voice import BrandVoice
from shared.db import new_id
from shared.events import DraftCreated, Event, MentionReceived, new_event
from shared.models import Brand, SocialAccount

SOURCE = "generation"
REPLY_VARIANTS = 2
_WORD = re.compile(r"[^\W\d_]+")
MARKERS = {
    "fr": {
        "le",
        "la",
        "les",
        "des",
        "est",
        "et",
        "vous",
        "nous",
        "je",
        "pas",
        "pour",
        "une",
        "merci",
        "bonjour",
        "avec",
        "sur",
        "mais",
        "très",
        "votre",
        "c'est",
        "ça",
        "qui",
        "que",
        "du",
    },
    "en": {
        "the",
        "and",
        "is",
        "you",
        "we",
        "not",
        "for",
        "with",
        "thanks",
        "thank",
        "hello",
        "your",
        "this",
        "that",
        "are",
        "was",
        "but",
        "very",
        "it's",
        "my",
        "of",
        "to",
        "hi",
    },
}


def detect_language(text: str) -> str | None:
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(w in markers for w in words) for lang, markers in MARKERS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > 0 and scores["fr"] != scores["en"] else None


def reply_language(mention: MentionReceived, brand: Brand) -> str:
    if mention.language in ("fr", "en"):
        return mention.language
    detected = detect_language(mention.text)
    if detected:
        return detected
    return next((lang for lang in brand.languages or [] if lang in ("fr", "en")), "en")


def _own_mention(session: Session, mention: MentionReceived) -> bool:
    if not mention.account_id:
        return False
    account = session.get(SocialAccount, mention.account_id)
    return (
        account is not None
        and account.handle.lstrip("@").lower() == mention.author.lstrip("@").lower()
    )


def suggest_replies(event: Event, session: Session, deps: GenerationDeps) -> list[Event]:
    mention: MentionReceived = event.data  # type: ignore[assignment]
    brand = session.get(Brand, mention.brand_id)
    if brand is None or brand.agency_id != event.tenant or _own_mention(session, mention):
        return []
    voice = BrandVoice.of(brand)
    try:
        brand_ai = BrandAI.of(brand)
    except ValueError:
        brand_ai = BrandAI()  # a reply is still useful with the offline provider
    language = reply_language(mention, brand)
    try:
        adapter = deps.adapter(mention.network)
    except UnknownNetwork as error:
        session.add(
            DroppedVariant(
                agency_id=event.tenant,
                mention_id=mention.mention_id,
                network=mention.network,
                variant=-1,
                reasons=[str(error)],
            )
        )
        return []
    prompt = reply_prompt(
        brand.name,
        voice,
        network=adapter.display_name,
        author=mention.author,
        sentiment=mention.sentiment_label,
        mention_text=mention.text,
        language=language,
        variants=REPLY_VARIANTS,
    )
    facts = {
        "author": mention.author,
        "mention_text": mention.text,
        "sentiment": mention.sentiment_label,
        "language": language,
        "brand": brand.name,
        "voice": voice.as_facts(),
        "variants": REPLY_VARIANTS,
    }
    generation, _ = run_generation(
        session,
        deps,
        agency_id=event.tenant,
        brand_id=brand.id,
        brand_ai=brand_ai,
        prompt=prompt,
        task="reply",
        language=language,
        facts=facts,
        mention_id=mention.mention_id,
    )
    if generation is None:
        return []
    must_see = guardrails.mention_risks(mention.text, mention.sentiment_label, language)
    events: list[Event] = []
    for index, variant in enumerate(generation.output.variants[:REPLY_VARIANTS]):
        body, _ = split_trailing_hashtags(variant.text)
        fitted = fit(adapter, body, [], 0, language, reply_to=mention.external_id)
        if isinstance(fitted, Dropped):
            session.add(
                DroppedVariant(
                    agency_id=event.tenant,
                    mention_id=mention.mention_id,
                    network=mention.network,
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
            extra=must_see,
        )
        draft = Draft(
            id=new_id(),
            agency_id=event.tenant,
            brand_id=brand.id,
            kind="reply",
            mention_id=mention.mention_id,
            account_id=mention.account_id,
            network=mention.network,
            variant=index,
            language=language,
            text=fitted.text,
            description=variant.description,
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
                    kind="reply",
                    mention_id=mention.mention_id,
                    account_id=mention.account_id,
                    network=mention.network,
                    variant=index,
                    language=language,
                    text=fitted.text,
                    description=variant.description,
                    risk_score=assessment.score,
                    risk_reasons=assessment.reasons,
                    needs_person=assessment.needs_person,
                    provider=generation.provider,
                    model=generation.model,
                    mention_text=mention.text,
                    mention_author=mention.author,
                    mention_external_id=mention.external_id,
                    mention_sentiment=mention.sentiment_label,
                ),
                tenant=event.tenant,
                source=SOURCE,
                subject=draft.id,
            )
        )
    return events
