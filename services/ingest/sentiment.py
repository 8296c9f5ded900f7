"""Sentiment of a mention in French or English: a lexicon method with rules.

Why a lexicon and not a trained model: it runs offline on any machine with no model download,
it is deterministic and explainable (a community manager can see which words counted), it
costs microseconds per mention (ingest scores every mention in the stream), and it is easy
to extend per language by editing a word list. Its known weakness is sarcasm and domain
words it has never seen; a model can replace `score()` later behind the same signature.

Method (after VADER, Hutto & Gilbert 2014, adapted to French):
- word lists in `lexicons/`: `valence_<lang>.txt` (word or phrase, valence -4..+4, written for
  this project in the style of AFINN/VADER, including customer-service phrases such as
  "no answer", "pas de réponse", "hors de prix"), `valence_emoji.txt`, `negators_<lang>.txt`,
  `intensifiers_<lang>.txt`;
- phrases first (longest match, up to three tokens), so "pas mal", "not bad", "can't wait"
  and "plus jamais" keep their own meaning;
- negation: a negator among the three previous tokens (punctuation ends its scope) multiplies
  the valence by -0.74 (VADER's constant). In French, "ne ... pas" counts once: negation is
  "any negator in the window", not a parity, and a phrase that starts with a negator
  ("pas terrible") is not negated again by the "ne" before it; emoji are never negated;
- intensifiers and diminishers multiply the next sentiment word (très, trop, vraiment, un peu;
  very, so, a bit); a word in capitals in a text that is not all capitals counts 1.25×;
- "but" / "mais": what comes before counts half, what comes after 1.5×;
- exclamation marks add emphasis (0.292 each, up to four);
- the sum is squashed into [-1, 1] with s / sqrt(s² + 15); labels at ±0.05 (VADER's bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from services.ingest.text import LANGUAGES, raw_tokens, weighted, word_set

NEGATION_FACTOR = -0.74
NEGATION_WINDOW = 3
CAPS_FACTOR = 1.25
EXCLAMATION_BOOST = 0.292
NORMALISER = 15.0
LABEL_BOUND = 0.05
CONTRAST = {"but", "mais", "however", "pourtant", "cependant"}
SCOPE_BREAKS = {".", ",", ";", "!", "?", ":", "…"}


@dataclass(frozen=True)
class Sentiment:
    score: float  # -1 (very negative) .. +1 (very positive)
    label: str  # negative, neutral, positive


@dataclass(frozen=True)
class Lexicon:
    valence: dict[tuple[str, ...], float]
    negators: frozenset[str]
    intensifiers: dict[tuple[str, ...], float]


@lru_cache
def lexicon_for(language: str) -> Lexicon:
    """The word lists of one language; `und` (unknown) merges French and English."""
    languages = (language,) if language in LANGUAGES else LANGUAGES
    valence = dict(weighted("valence_emoji.txt"))
    negators: set[str] = set()
    intensifiers: dict[tuple[str, ...], float] = {}
    for name in languages:
        valence.update(weighted(f"valence_{name}.txt"))
        negators |= word_set(f"negators_{name}.txt")
        intensifiers.update(weighted(f"intensifiers_{name}.txt"))
    return Lexicon(valence, frozenset(negators), intensifiers)


def _match(table: dict[tuple[str, ...], float], words: list[str], start: int) -> int:
    """Length of the longest phrase of `table` starting at `start` (0: none)."""
    for size in (3, 2, 1):
        if start + size <= len(words) and tuple(words[start:start + size]) in table:
            return size
    return 0


def score(text: str, language: str = "und") -> Sentiment:
    lexicon = lexicon_for(language)
    original = raw_tokens(text)
    words = [token.lower() for token in original]
    shouting = sum(1 for t in original if t.isalpha() and t.isupper() and len(t) > 1)
    all_caps = shouting > 0 and shouting == sum(1 for t in original if t.isalpha() and len(t) > 1)
    items: list[float] = []
    contrast_at: int | None = None
    last_negator = last_break = -100
    factor = 1.0
    index = 0
    while index < len(words):
        word = words[index]
        size = _match(lexicon.valence, words, index)
        if size:
            value = lexicon.valence[tuple(words[index:index + size])] * factor
            starts_negated = word in lexicon.negators
            if (not starts_negated and word[0].isalnum() and index - last_negator <= NEGATION_WINDOW
                    and last_negator > last_break):
                value *= NEGATION_FACTOR
            if size == 1 and not all_caps and original[index].isupper() and len(word) > 1:
                value *= CAPS_FACTOR
            items.append(value)
            factor = 1.0
            index += size
            continue
        boost = _match(lexicon.intensifiers, words, index)
        if boost:
            factor *= lexicon.intensifiers[tuple(words[index:index + boost])]
            index += boost
            continue
        if word in lexicon.negators:
            last_negator = index
        elif word in CONTRAST:
            contrast_at = len(items)
        elif word in SCOPE_BREAKS:
            last_break = index
            factor = 1.0
        index += 1
    if contrast_at is not None:
        items = [v * (0.5 if i < contrast_at else 1.5) for i, v in enumerate(items)]
    total = sum(items)
    if total:
        total += math.copysign(EXCLAMATION_BOOST * min(4, text.count("!")), total)
    compound = total / math.sqrt(total * total + NORMALISER)
    label = ("positive" if compound >= LABEL_BOUND
             else "negative" if compound <= -LABEL_BOUND else "neutral")
    return Sentiment(round(compound, 4), label)
