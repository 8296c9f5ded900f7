"""Guardrails: how risky a draft is, why, and where in the text.

Rule checks in French and English (word lists in `lexicons/`): insults and profanity,
mocking or attacking a competitor or a person, sensitive topics (tragedies, politics,
religion, health and financial claims), promises the brand cannot keep, the brand's banned
terms, and an off-voice tone (shouting, emoji against the brand's policy, the wrong French
address: codes shouting, exclamations, emoji_policy, formality). Each finding is a
`RiskReason` with a weight and a span; the score combines them
(1 - Π(1 - strongest weight per kind)), adding the model's own assessment when the provider
gave one. From the threshold on, a person must look at the draft; a reply to a negative or
sensitive mention always needs one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import regex

from plugins.ai.base import RiskAssessment
from services.generation.voice import BrandVoice
from shared.events import RiskReason

LEXICONS = Path(__file__).with_name("lexicons")
DEFAULT_THRESHOLD = 0.5
SENSITIVE = (
    "sensitive_tragedy",
    "sensitive_politics",
    "sensitive_religion",
    "health_claims",
    "financial_claims",
)

# category -> (reason code, default weight)
CATEGORIES: dict[str, tuple[str, float]] = {
    "profanity": ("profanity", 0.7),
    "competitor_attack": ("competitor_attack", 0.6),
    "sensitive_tragedy": ("sensitive_topic", 0.6),
    "sensitive_politics": ("sensitive_topic", 0.55),
    "sensitive_religion": ("sensitive_topic", 0.55),
    "health_claims": ("health_claim", 0.6),
    "financial_claims": ("financial_claim", 0.6),
    "promises": ("promise", 0.5),
}

MESSAGES: dict[str, dict[str, str]] = {
    "profanity": {"fr": "insulte ou grossièreté : « {m} »", "en": 'insult or profanity: "{m}"'},
    "competitor_attack": {
        "fr": "attaque ou moquerie envers un concurrent ou une personne : « {m} »",
        "en": 'attacks or mocks a competitor or a person: "{m}"',
    },
    "person_attack": {
        "fr": "insulte visant une personne : « {m} »",
        "en": 'insult aimed at a person: "{m}"',
    },
    "sensitive_tragedy": {
        "fr": "sujet sensible (drame, catastrophe) : « {m} »",
        "en": 'sensitive topic (tragedy, disaster): "{m}"',
    },
    "sensitive_politics": {
        "fr": "sujet sensible (politique) : « {m} »",
        "en": 'sensitive topic (politics): "{m}"',
    },
    "sensitive_religion": {
        "fr": "sujet sensible (religion) : « {m} »",
        "en": 'sensitive topic (religion): "{m}"',
    },
    "health_claims": {"fr": "allégation de santé : « {m} »", "en": 'health claim: "{m}"'},
    "financial_claims": {"fr": "allégation financière : « {m} »", "en": 'financial claim: "{m}"'},
    "promises": {
        "fr": "promesse que la marque ne peut peut-être pas tenir : « {m} »",
        "en": 'a promise the brand may not be able to keep: "{m}"',
    },
    "banned_term": {
        "fr": "terme interdit par la marque : « {m} »",
        "en": 'term the brand bans: "{m}"',
    },
    "competitor_named": {"fr": "cite un concurrent : « {m} »", "en": 'names a competitor: "{m}"'},
    "shouting": {"fr": "ton criard (majuscules) : « {m} »", "en": 'shouting (capitals): "{m}"'},
    "exclamations": {"fr": "trop de points d'exclamation", "en": "too many exclamation marks"},
    "emoji_policy": {
        "fr": "émojis contraires à la voix de la marque ({m})",
        "en": "emoji against the brand's voice ({m})",
    },
    "formality": {
        "fr": "adresse contraire à la voix de la marque : « {m} »",
        "en": 'form of address against the brand\'s voice: "{m}"',
    },
    "model_assessment": {"fr": "évaluation du modèle : {m}", "en": "the model's assessment: {m}"},
    "negative_mention": {
        "fr": "réponse à une mention négative",
        "en": "reply to a negative mention",
    },
    "sensitive_mention": {
        "fr": "réponse à une mention sensible : {m}",
        "en": "reply to a sensitive mention: {m}",
    },
}

_EMOJI = regex.compile(r"\p{Extended_Pictographic}")
_CAPS_WORDS = re.compile(r"\b[A-ZÀ-ÖØ-Þ][A-ZÀ-ÖØ-Þ'’]{2,}(?:\W+[A-ZÀ-ÖØ-Þ][A-ZÀ-ÖØ-Þ'’]{2,}){2,}")
_TU = re.compile(r"\b(tu|te|toi|ton|ta|tes|t'|t’)(?=\W)", re.IGNORECASE)
_VOUS = re.compile(r"\b(vous|votre|vos)\b", re.IGNORECASE)
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    weight: float


@cache
def lexicon(category: str) -> tuple[Pattern, ...]:
    weight = CATEGORIES[category][1]
    by_weight: dict[float, list[str]] = {}
    for line in (LEXICONS / f"{category}.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        own = weight
        if line.startswith("@"):
            head, _, line = line.partition(" ")
            own = float(head[1:])
        by_weight.setdefault(own, []).append(f"(?:{line})")
    # One alternation per weight: a text is scanned a few times, not once per word.
    return tuple(
        Pattern(re.compile(rf"(?<!\w)(?:{'|'.join(lines)})(?!\w)", re.IGNORECASE), own)
        for own, lines in by_weight.items()
    )


@dataclass
class Assessment:
    score: float
    verdict: Literal["ok", "needs_person"]
    reasons: list[RiskReason] = field(default_factory=list)

    @property
    def needs_person(self) -> bool:
        return self.verdict == "needs_person"


def _message(key: str, language: str, match: str = "") -> str:
    return MESSAGES[key]["fr" if language == "fr" else "en"].format(m=match.strip()[:80])


def _reason(
    code: str, key: str, language: str, match: re.Match[str] | None, weight: float, text: str = ""
) -> RiskReason:
    if match is None:
        return RiskReason(code=code, message=_message(key, language, text), weight=weight)
    return RiskReason(
        code=code,
        message=_message(key, language, match.group(0)),
        start=match.start(),
        end=match.end(),
        weight=weight,
    )


def lexicon_findings(
    text: str, language: str, categories: tuple[str, ...] = tuple(CATEGORIES)
) -> list[tuple[str, RiskReason]]:
    """(category, reason) for every list match; links are left out (a URL is no claim)."""
    searchable = _URL.sub(lambda m: " " * len(m.group(0)), text)
    found = []
    for category in categories:
        code = CATEGORIES[category][0]
        for pattern in lexicon(category):
            for match in pattern.regex.finditer(searchable):
                found.append((category, _reason(code, category, language, match, pattern.weight)))
    return found


def _voice_findings(text: str, voice: BrandVoice, language: str) -> list[RiskReason]:
    reasons: list[RiskReason] = []
    for term in voice.banned_terms:
        for match in re.finditer(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE):
            reasons.append(_reason("banned_term", "banned_term", language, match, 0.6))
    for name in voice.competitors:
        for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE):
            reasons.append(_reason("competitor_attack", "competitor_named", language, match, 0.35))
    for match in _CAPS_WORDS.finditer(text):
        reasons.append(_reason("shouting", "shouting", language, match, 0.3))
    if re.search(r"!{2,}", text) or text.count("!") >= 4:
        reasons.append(_reason("exclamations", "exclamations", language, None, 0.2))
    emoji = len(_EMOJI.findall(text))
    if (voice.emoji == "none" and emoji) or (voice.emoji == "sparingly" and emoji > 3):
        reasons.append(
            _reason("emoji_policy", "emoji_policy", language, None, 0.25, f"{emoji} emoji")
        )
    if language == "fr" and voice.formality == "vous" and (match := _TU.search(text)):
        reasons.append(_reason("formality", "formality", language, match, 0.2))
    if language == "fr" and voice.formality == "tu" and (match := _VOUS.search(text)):
        reasons.append(_reason("formality", "formality", language, match, 0.1))
    return reasons


def _person_attacks(text: str, language: str, insults: list[RiskReason]) -> list[RiskReason]:
    """An insult next to someone (a handle, 'ce client', 'that influencer') attacks a person."""
    target = re.compile(
        r"@\w+|\b(ce|cette|cet|le|la|that|this|the) (client|cliente|type|mec|"
        r"influenceur|influenceuse|journaliste|customer|guy|influencer|journalist|"
        r"reviewer|person)\b|\bwhat an?\b|\bquel(le)?\b",
        re.IGNORECASE,
    )
    found = []
    for reason in insults:
        start, end = reason.start or 0, reason.end or 0
        window = text[max(0, start - 60) : end + 30]
        if target.search(window):
            found.append(
                RiskReason(
                    code="person_attack",
                    message=_message("person_attack", language, text[start:end]),
                    start=start,
                    end=end,
                    weight=0.75,
                )
            )
    return found


def combine(reasons: list[RiskReason]) -> float:
    strongest: dict[str, float] = {}
    for reason in reasons:
        strongest[reason.code] = max(strongest.get(reason.code, 0.0), reason.weight)
    remaining = 1.0
    for weight in strongest.values():
        remaining *= 1.0 - min(max(weight, 0.0), 1.0)
    return round(1.0 - remaining, 3)


def check(
    text: str,
    voice: BrandVoice | None = None,
    language: str = "fr",
    threshold: float = DEFAULT_THRESHOLD,
    model_risk: RiskAssessment | None = None,
    extra: list[RiskReason] | None = None,
) -> Assessment:
    """The risk of `text` for a brand with `voice`; `extra` reasons force a verdict."""
    voice = voice or BrandVoice()
    lang = "fr" if language == "fr" else "en"
    findings = lexicon_findings(text, lang)
    reasons = [reason for _, reason in findings]
    insults = [reason for category, reason in findings if category == "profanity"]
    reasons += _person_attacks(text, lang, insults)
    reasons += _voice_findings(text, voice, lang)
    if model_risk is not None and model_risk.score > 0:
        why = "; ".join(model_risk.reasons)[:300] or f"{model_risk.score:.2f}"
        reasons.append(
            RiskReason(
                code="model_assessment",
                message=_message("model_assessment", lang, why),
                weight=model_risk.score,
            )
        )
    reasons += extra or []
    reasons.sort(key=lambda r: (-r.weight, r.start if r.start is not None else -1))
    score = combine(reasons)
    forced = any(r.code in ("negative_mention", "sensitive_mention") for r in extra or [])
    verdict: Literal["ok", "needs_person"] = (
        "needs_person" if forced or score >= threshold else "ok"
    )
    return Assessment(score=score, verdict=verdict, reasons=reasons)


def mention_risks(mention_text: str, sentiment: str, language: str) -> list[RiskReason]:
    """Reasons a reply to this mention always needs a person (negative or sensitive)."""
    lang = "fr" if language == "fr" else "en"
    reasons = []
    if sentiment == "negative":
        reasons.append(
            RiskReason(
                code="negative_mention", message=_message("negative_mention", lang), weight=0.5
            )
        )
    sensitive = lexicon_findings(mention_text, lang, (*SENSITIVE, "profanity"))
    if sensitive:
        topics = ", ".join(sorted({reason.message for _, reason in sensitive}))[:200]
        reasons.append(
            RiskReason(
                code="sensitive_mention",
                message=_message("sensitive_mention", lang, topics),
                weight=0.5,
            )
        )
    return reasons
