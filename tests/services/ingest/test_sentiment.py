"""Sentiment and language of mentions on a labelled French/English set written for Tamtam.

The bar: three classes (negative, neutral, positive), so chance is about 1/3 and always
answering the biggest class gets 0.40 here. Published lexicon methods reach about 0.65-0.75 on
three-class tweets (VADER's own paper reports F1 0.96 on its tweet set, lower elsewhere); our
lexicon and this set were written by the same team, in the same domain (customer mentions of
a shop or brand), which flatters it. We assert 0.85 — below what we measure (0.94) so a word
list edit does not break the build, and well above what the same method gets with the wrong
word lists (English lists for every text: 0.70). Negation matters less on this set (0.91
without it), so dedicated cases test it below. Another engineer's texts (the sandbox
network's simulated mentions) are a second, independent check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest import sentiment
from services.ingest.text import detect_language, hashtags, terms

DATA = Path(__file__).parent / "data" / "sentiment_labelled.tsv"


def labelled() -> list[tuple[str, str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            language, label, text = line.split("\t")
            rows.append((language, label, text))
    return rows


def test_the_labelled_set_is_large_and_bilingual():
    rows = labelled()
    assert len(rows) >= 80
    assert {language for language, _, _ in rows} == {"fr", "en"}
    assert {label for _, label, _ in rows} == {"negative", "neutral", "positive"}


def test_sentiment_accuracy_on_the_labelled_set():
    rows = labelled()
    results = {"fr": [0, 0], "en": [0, 0]}
    for language, label, text in rows:
        guess = sentiment.score(text, detect_language(text)).label
        results[language][0] += guess == label
        results[language][1] += 1
    total = sum(r[0] for r in results.values()) / sum(r[1] for r in results.values())
    print(f"\nsentiment accuracy: {total:.3f} (fr {results['fr'][0]}/{results['fr'][1]}, "
          f"en {results['en'][0]}/{results['en'][1]})")
    assert total >= 0.85
    for correct, count in results.values():
        assert correct / count >= 0.8


def test_sentiment_on_the_sandbox_networks_texts_written_by_someone_else():
    sandbox = pytest.importorskip("services.api.sandbox")
    pairs = [(text, label) for by_label in sandbox.MENTION_TEXTS.values()
             for label, texts in by_label.items() for text in texts]
    correct = sum(sentiment.score(text, detect_language(text)).label == label
                  for text, label in pairs)
    print(f"\nsandbox texts: {correct}/{len(pairs)}")
    assert correct / len(pairs) >= 0.8


def test_language_detection_on_the_labelled_set():
    rows = labelled()
    correct = sum(detect_language(text) == language for language, _, text in rows)
    print(f"\nlanguage accuracy: {correct}/{len(rows)}")
    assert correct / len(rows) >= 0.95
    assert detect_language("👍👍") == "und"
    assert detect_language("👍👍", prior=["fr"]) == "und"  # no vote at all stays unknown
    assert detect_language("super", prior=["fr", "en"]) == "fr"  # a tie goes to the brand


@pytest.mark.parametrize(("text", "language", "label"), [
    ("C'est bon", "fr", "positive"),
    ("Ce n'est pas bon", "fr", "negative"),  # ne ... pas negates once
    ("Je n'aime pas", "fr", "negative"),
    ("Pas mal du tout !", "fr", "positive"),  # an idiom, not a negation
    ("Pas terrible", "fr", "negative"),
    ("This is good", "en", "positive"),
    ("This is not good", "en", "negative"),
    ("It isn't bad at all", "en", "positive"),
    ("You never disappoint 👏", "en", "positive"),
])
def test_negation_and_idioms(text: str, language: str, label: str):
    assert sentiment.score(text, language).label == label


def test_intensifiers_contrast_and_exclamations_change_the_strength():
    plain = sentiment.score("C'est bon", "fr").score
    assert sentiment.score("C'est très bon", "fr").score > plain
    assert sentiment.score("C'est un peu bon", "fr").score < plain
    assert sentiment.score("C'est bon !!!", "fr").score > plain
    assert sentiment.score("Good food but terrible service", "en").label == "negative"


def test_terms_and_hashtags_for_trend_watch():
    assert hashtags("Vive la #Rentrée et #rentrée") == ["rentrée"]
    assert terms("Le nouveau croissant est là #Rentrée https://x.y/z") == [
        "nouveau", "croissant", "#rentrée"]
