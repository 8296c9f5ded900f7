"""Prompts, filled from template files (`prompts/<task>.v<N>.<language>.txt`) with the brand's
voice and the brief or the mention.

A template holds the system prompt, a `---- user ----` line, then the user message. Text from
outside the agency (a mention) reaches the model only as quoted data: HTML-escaped so it cannot
close its `<mention>` delimiter, control characters dropped, then written as a JSON string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from services.generation.voice import BrandVoice

PROMPTS = Path(__file__).with_name("prompts")
VERSION = "v1"
USER_MARKER = "---- user ----"
MAX_QUOTED = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
EMOJI_POLICY = {
    "fr": {"none": "aucun", "sparingly": "avec parcimonie (un ou deux)", "freely": "librement"},
    "en": {"none": "none", "sparingly": "sparingly (one or two)", "freely": "freely"},
}
FORMALITY = {"tu": "tutoiement", "vous": "vouvoiement", "any": "au choix"}
NONE = {"fr": "(aucun)", "en": "(none)"}


@dataclass(frozen=True)
class Prompt:
    name: str  # e.g. draft.v1.fr
    system: str
    user: str


@cache
def _template(name: str) -> tuple[Template, Template]:
    system, _, user = (PROMPTS / f"{name}.txt").read_text(encoding="utf-8").partition(USER_MARKER)
    return Template(system.strip()), Template(user.strip())


def template_name(task: str, language: str) -> str:
    lang = language if (PROMPTS / f"{task}.{VERSION}.{language}.txt").exists() else "en"
    return f"{task}.{VERSION}.{lang}"


def quote_untrusted(text: str) -> str:
    """Outside text as inert data: no delimiter can be closed, no control character kept."""
    cleaned = _CONTROL.sub(" ", text)[:MAX_QUOTED]
    escaped = cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return json.dumps(escaped, ensure_ascii=False)


def _listed(items: list[str], language: str) -> str:
    return ", ".join(items) if items else NONE.get(language, NONE["en"])


def voice_values(voice: BrandVoice, language: str) -> dict[str, str]:
    lang = language if language in EMOJI_POLICY else "en"
    samples = "\n".join(f"  > {quote_untrusted(s)}" for s in voice.sample_posts[:5])
    return {
        "tone": _listed(voice.tone, lang),
        "dos": _listed(voice.dos, lang),
        "donts": _listed(voice.donts, lang),
        "banned_terms": _listed(voice.banned_terms, lang),
        "emoji_policy": EMOJI_POLICY[lang][voice.emoji],
        "formality": FORMALITY[voice.formality],
        "samples": samples or f"  {NONE[lang]}",
    }


def draft_prompt(
    brand_name: str, voice: BrandVoice, brief: dict[str, Any], language: str
) -> Prompt:
    name = template_name("draft", language)
    system, user = _template(name)
    values = {
        **voice_values(voice, language),
        "brand": brand_name,
        "variants": str(brief.get("variants", 2)),
        "networks": ", ".join(brief.get("networks", [])),
    }
    brief_json = json.dumps(brief, ensure_ascii=False, indent=1, default=str)
    brief_json = brief_json.replace("<", "\\u003c").replace(">", "\\u003e")
    return Prompt(name, system.substitute(values), user.substitute(brief=brief_json))


def reply_prompt(
    brand_name: str,
    voice: BrandVoice,
    *,
    network: str,
    author: str,
    sentiment: str,
    mention_text: str,
    language: str,
    variants: int,
) -> Prompt:
    name = template_name("reply", language)
    system, user = _template(name)
    values = {
        **voice_values(voice, language),
        "brand": brand_name,
        "network": network,
        "variants": str(variants),
    }
    return Prompt(
        name,
        system.substitute(values),
        user.substitute(
            author=quote_untrusted(author)[:200],
            sentiment=sentiment,
            mention=quote_untrusted(mention_text),
        ),
    )
