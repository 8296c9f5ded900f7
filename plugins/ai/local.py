"""The `local` provider: Tamtam's offline default. No network, no key, deterministic.

It reads the request's `facts` (the brief, or the mention and the brand's voice) rather than
the prompts, and builds French or English drafts from templates: the key message, the call
to action and the links, one angle per variant; hashtags come from keyword extraction on the
topic and the key message. Replies follow the mention's kind (question, complaint, praise)
and never repeat the mention's text. It is plain, but the whole loop runs with nothing
configured, and the same inputs always give the same drafts.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any

from plugins.ai.base import (
    Generation,
    GenerationRequest,
    HashtagOut,
    Provider,
    ProviderConfig,
    StructuredOutput,
    Usage,
    VariantOut,
)
from plugins.ai.hookspecs import hookimpl

STOPWORDS = {
    "fr": set(
        """au aux avec ce ces cette dans de des du elle en et eux il ils je la le les leur
        lui ma mais me même mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses
        son sur ta te tes toi ton tu un une vos votre vous est sont été être avoir fait plus tout
        tous toute toutes très bien aussi comme donc alors encore entre sans sous chez vers depuis
        pendant avant après cela ceci celui celle dont où quand nouveau nouvelle nouveaux
        chaque sort sortent faire venez""".split()
    ),
    "en": set(
        """a an and are as at be been but by for from has have he her his i if in into is
        it its me my no not of on or our ours she so than that the their them then there these
        they this those to too up us was we were what when where which who why will with you your
        new all also more most very just about after before over under""".split()
    ),
}
EMOJI = {"launch": "🎉", "event": "📅", "promotion": "✨", "engagement": "💬", "default": "✨"}
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_HANDLE = re.compile(r"^@?[\w.\-]{1,64}(@[\w.\-]{1,200})?$")


@hookimpl
def register_providers(register: Callable[[type], None]) -> None:
    register(LocalProvider)


class LocalConfig(ProviderConfig):
    default_model: str | None = "local"


def _sentence(text: str) -> str:
    text = text.strip().rstrip(" .;,:")
    if not text:
        return ""
    return text if text[-1] in "!?…" else f"{text}."


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lowered(text: str) -> str:
    """French lowers the word after a colon: only when it is a function word (`Notre`,
    `Les`), never a name (`Paris`)."""
    first = text.split(" ", 1)[0]
    if first.lower() in STOPWORDS["fr"] and first[:1].isupper():
        return first.lower() + text[len(first) :]
    return text


def keywords(text: str, language: str, limit: int = 6) -> list[str]:
    """Content words of `text`, most frequent first (ties: first seen first)."""
    stop = STOPWORDS.get(language, set()) | STOPWORDS["fr"] | STOPWORDS["en"]
    words = [w.strip("'’-").lower() for w in _WORD.findall(text)]
    words = [w for w in words if len(w) >= 4 and w not in stop]
    counts = Counter(words)
    order = {w: i for i, w in reversed(list(enumerate(words)))}
    return sorted(counts, key=lambda w: (-counts[w], order[w]))[:limit]


def hashtag_of(phrase: str) -> str:
    """`pain au levain` -> `PainAuLevain`; drops punctuation, keeps letters with accents."""
    parts = [p for p in re.split(r"[^\w]+", phrase) if p]
    return "".join(p[:1].upper() + p[1:] for p in parts)


def _ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


# --- drafts ---------------------------------------------------------------------------

DEFAULT_CTA = {"fr": "Dites-nous ce que vous en pensez !", "en": "Tell us what you think!"}
ANGLES: dict[str, list[tuple[str, Callable[[str, str], str]]]] = {
    "fr": [
        ("annonce", lambda topic, message: f"{_capitalised(topic)} : {_lowered(message)}"),
        ("question", lambda topic, message: f"Envie d'en savoir plus sur {topic} ? {message}"),
        ("coulisses", lambda topic, message: f"Du nouveau côté {topic} ! {message}"),
        ("court", lambda topic, message: message),
        ("liste", lambda topic, message: f"{_capitalised(topic)}, en bref :\n• {message}"),
    ],
    "en": [
        ("announcement", lambda topic, message: f"{_capitalised(topic)}: {message}"),
        ("question", lambda topic, message: f"Curious about {topic}? {message}"),
        ("behind the scenes", lambda topic, message: f"Something new on {topic}! {message}"),
        ("short", lambda topic, message: message),
        ("list", lambda topic, message: f"{_capitalised(topic)}, in short:\n• {message}"),
    ],
}
DESCRIPTIONS = {
    "fr": "Variante {n}, angle « {angle} » : le message clé{cta}{links}.",
    "en": "Variant {n}, {angle} angle: the key message{cta}{links}.",
}


def draft_variants(facts: dict[str, Any], language: str) -> list[VariantOut]:
    lang = language if language in ANGLES else "en"
    topic = str(facts.get("topic") or "").strip()
    message = _sentence(str(facts.get("key_message") or "") or topic)
    cta = _sentence(str(facts.get("call_to_action") or "")) or DEFAULT_CTA[lang]
    links = [str(link) for link in facts.get("links") or []]
    policy = str((facts.get("voice") or {}).get("emoji") or "sparingly")
    emoji = EMOJI.get(str(facts.get("goal") or "").lower(), EMOJI["default"])
    count = max(1, min(int(facts.get("variants") or 2), 5))
    variants = []
    for index in range(count):
        angle, opening = ANGLES[lang][index % len(ANGLES[lang])]
        body = opening(topic or message, message)
        with_emoji = policy == "freely" or (policy == "sparingly" and index % 2 == 0)
        if with_emoji and policy != "none":
            body = f"{body} {emoji}"
        parts = [body, f"\n• {cta}" if angle in ("liste", "list") else cta, *links]
        text = " ".join(p for p in parts if p).replace(" \n", "\n")
        description = DESCRIPTIONS[lang].format(
            n=index + 1,
            angle=angle,
            cta=(", l'appel à l'action" if lang == "fr" else ", the call to action"),
            links=(f", {len(links)} lien(s)" if lang == "fr" else f", {len(links)} link(s)")
            if links
            else "",
        )
        variants.append(VariantOut(text=text, description=description))
    return variants


def draft_hashtags(facts: dict[str, Any], language: str) -> list[HashtagOut]:
    topic = str(facts.get("topic") or "")
    source = " ".join([topic, str(facts.get("key_message") or ""), str(facts.get("goal") or "")])
    tags: list[HashtagOut] = []
    topic_words = [w for w in _WORD.findall(topic)]
    if 1 <= len(topic_words) <= 4:
        why = "le sujet du brief" if language == "fr" else "the brief's topic"
        tags.append(HashtagOut(tag=hashtag_of(topic), why=why))
    for word in keywords(source, language):
        why = "mot-clé du brief" if language == "fr" else "keyword of the brief"
        tag = hashtag_of(word)
        if all(_ascii_fold(t.tag).lower() != _ascii_fold(tag).lower() for t in tags):
            tags.append(HashtagOut(tag=tag, why=why))
    return tags[:8]


# --- replies --------------------------------------------------------------------------

REPLIES = {
    "fr": {
        "question": [
            "Bonjour{who}, merci pour votre question ! Nous vous répondons en message privé "
            "avec tous les détails.",
            "Merci{who} ! Bonne question : écrivez-nous en message privé et nous regardons "
            "ça ensemble.",
        ],
        "complaint": [
            "Bonjour{who}, nous sommes désolés pour ce désagrément. Pouvez-vous nous "
            "écrire en message privé pour que nous trouvions une solution ?",
            "Merci{who} de nous l'avoir signalé, et toutes nos excuses. Notre équipe "
            "regarde cela ; écrivez-nous en privé pour le suivi.",
        ],
        "praise": [
            "Merci beaucoup{who}, ça nous touche ! À très vite.",
            "Quel plaisir de vous lire{who} ! Merci pour ce message.",
        ],
        "other": [
            "Merci{who} pour votre message !",
            "Merci{who} ! N'hésitez pas à nous écrire si vous avez une question.",
        ],
    },
    "en": {
        "question": [
            "Hi{who}, thanks for your question! We'll reply by direct message with all "
            "the details.",
            "Thanks{who}! Good question: send us a direct message and we'll look into it together.",
        ],
        "complaint": [
            "Hi{who}, we're sorry about this. Could you send us a direct message so we "
            "can put it right?",
            "Thank you{who} for letting us know, and our apologies. Our team is looking "
            "into it; message us privately so we can follow up.",
        ],
        "praise": [
            "Thank you so much{who}, that means a lot! See you soon.",
            "So glad to read this{who}! Thanks for your message.",
        ],
        "other": [
            "Thanks{who} for your message!",
            "Thanks{who}! Feel free to message us if you have a question.",
        ],
    },
}


def reply_kind(facts: dict[str, Any]) -> str:
    sentiment = str(facts.get("sentiment") or "neutral")
    if sentiment == "negative":
        return "complaint"
    if "?" in str(facts.get("mention_text") or ""):
        return "question"
    return "praise" if sentiment == "positive" else "other"


def reply_variants(facts: dict[str, Any], language: str) -> list[VariantOut]:
    lang = language if language in REPLIES else "en"
    author = str(facts.get("author") or "").strip()
    who = f" @{author.lstrip('@')}" if author and _HANDLE.match(author) else ""
    kind = reply_kind(facts)
    count = max(1, min(int(facts.get("variants") or 2), 2))
    label = {"fr": "Réponse", "en": "Reply"}[lang]
    return [
        VariantOut(text=template.format(who=who), description=f"{label} ({kind}) {n + 1}")
        for n, template in enumerate(REPLIES[lang][kind][:count])
    ]


class LocalProvider(Provider):
    name = "local"
    display_name = "Local (offline, deterministic)"
    config_model = LocalConfig
    offline = True

    def generate(self, request: GenerationRequest) -> Generation:
        facts, language = request.facts, request.language
        if request.task == "reply":
            variants = reply_variants(facts, language)
            hashtags: list[HashtagOut] = []
            reasons = [
                "réponse par modèle selon le type de mention"
                if language == "fr"
                else "template reply chosen by the kind of mention"
            ]
        else:
            variants = draft_variants(facts, language)
            hashtags = draft_hashtags(facts, language)
            reasons = [
                "brouillons par modèles à partir du brief"
                if language == "fr"
                else "template drafts built from the brief"
            ]
        output = StructuredOutput(variants=variants, hashtags=hashtags, reasons=reasons)
        usage = Usage(
            input_tokens=(len(request.system) + len(request.user)) // 4,
            output_tokens=sum(len(v.text) for v in variants) // 4,
        )
        return self.finish("local", output, usage)
