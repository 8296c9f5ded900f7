"""Words of a mention: tokens, hashtags, the word lists in `lexicons/`, and the language.

Language detection counts stopwords. Mentions are short (often under ten words), a case where
character n-gram models need far more text to be reliable, while the few most frequent
function words of French and English (le/la/et/est/pas vs the/and/is/not) are almost never
shared and appear in nearly every sentence. A text with no stopword falls back on the
sentiment lexicons (a French or English opinion word is also a language clue), then on
French diacritics; with no clue at all, or a tie, the answer is `und` (or the brand's first
language when the caller gives one).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

LEXICONS = Path(__file__).parent / "lexicons"
LANGUAGES = ("fr", "en")

TOKEN = re.compile(
    r"https?://\S+"  # a link (kept whole, then dropped by callers that want words)
    r"|[#@][\w][\w\-]*"  # a hashtag or a handle
    r"|[:;]-?[()DPp](?!\w)|<3"  # an emoticon
    r"|\w+(?:-\w+)*"  # a word (hyphenated words stay one: rip-off, peut-être)
    r"|[^\s\w]",  # one punctuation mark or emoji code point
    re.UNICODE,
)
CONTRACTIONS = (
    (re.compile(r"\bcan[’']t\b", re.I), "can not"),
    (re.compile(r"\bwon[’']t\b", re.I), "will not"),
    (re.compile(r"n[’']t\b", re.I), " not"),
    (re.compile(r"[’‘`]"), "'"),
)
FRENCH_MARKS = re.compile(r"[éèêàùçœîôâë]")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    for pattern, replacement in CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def tokens(text: str) -> list[str]:
    """Lower-case tokens; elisions are split (n'est -> n, ', est)."""
    return [token.lower() for token in TOKEN.findall(normalise(text))]


def raw_tokens(text: str) -> list[str]:
    """Tokens with their case (for shouting in capitals)."""
    return TOKEN.findall(normalise(text))


def hashtags(text: str) -> list[str]:
    return list(dict.fromkeys(t[1:].lower() for t in TOKEN.findall(text) if t.startswith("#")))


def lines(name: str) -> list[str]:
    lines = (LEXICONS / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@lru_cache
def word_set(name: str) -> frozenset[str]:
    return frozenset(word for line in lines(name) for word in line.split())


@lru_cache
def weighted(name: str) -> dict[tuple[str, ...], float]:
    """`word or phrase <TAB> number` lines, keyed by the phrase's tokens."""
    table: dict[tuple[str, ...], float] = {}
    for line in lines(name):
        phrase, _, value = line.rpartition("\t")
        table[tuple(tokens(phrase))] = float(value)
    return table


@lru_cache
def stopwords(language: str) -> frozenset[str]:
    return word_set(f"stopwords_{language}.txt")


def detect_language(text: str, prior: Sequence[str] = ()) -> str:
    words = [t for t in tokens(text) if t[0].isalpha()]
    votes = {language: 0.0 for language in LANGUAGES}
    for language in LANGUAGES:
        lexicon = weighted(f"valence_{language}.txt")
        for word in words:
            if word in stopwords(language):
                votes[language] += 1.0
            elif (word,) in lexicon:
                votes[language] += 0.5
    votes["fr"] += min(2, len(FRENCH_MARKS.findall(text.lower()))) * 0.5
    ranked = sorted(votes.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top == 0:
        return "und"
    if top > second:
        return best
    preferred = [language for language in prior if language in LANGUAGES and votes[language] == top]
    return preferred[0] if preferred else "und"


@lru_cache
def all_stopwords() -> frozenset[str]:
    return frozenset().union(*(stopwords(language) for language in LANGUAGES))


def terms(text: str, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Candidate trend terms: hashtags (with their #) and content words of 3+ letters."""
    found: list[str] = []
    for token in tokens(text):
        if token.startswith("#") and len(token) > 2:
            found.append(token)
        elif (token[0].isalpha() and len(token) >= 3 and token not in all_stopwords()
              and token not in ignore and not token.startswith(("http", "@"))):
            found.append(token)
    return list(dict.fromkeys(found))
