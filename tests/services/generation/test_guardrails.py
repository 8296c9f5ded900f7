"""Guardrails: the risk of a text with reasons and spans, against a labelled set of drafts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugins.ai.base import RiskAssessment
from services.generation import guardrails
from services.generation.voice import BrandVoice

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "guardrail_cases.jsonl").read_text().splitlines()
    if line.strip()
]


def _verdict(case: dict) -> guardrails.Assessment:
    return guardrails.check(
        case["text"], BrandVoice.model_validate(case.get("voice", {})), case["language"]
    )


def test_the_labelled_set_is_large_and_balanced_enough():
    risky = [c for c in CASES if c["expected"] == "needs_person"]
    safe = [c for c in CASES if c["expected"] == "ok"]
    assert len(CASES) >= 60 and len(risky) >= 25 and len(safe) >= 25
    for language in ("fr", "en"):
        assert sum(c["language"] == language for c in risky) >= 10
        assert sum(c["language"] == language for c in safe) >= 10


def test_recall_of_risky_drafts_and_false_alarms_on_safe_ones():
    risky = [c for c in CASES if c["expected"] == "needs_person"]
    safe = [c for c in CASES if c["expected"] == "ok"]
    caught = [c for c in risky if _verdict(c).needs_person]
    alarms = [c for c in safe if _verdict(c).needs_person]
    recall, false_alarms = len(caught) / len(risky), len(alarms) / len(safe)
    print(
        f"\nguardrails: recall of risky {recall:.3f} ({len(caught)}/{len(risky)}), "
        f"false alarms on safe {false_alarms:.3f} ({len(alarms)}/{len(safe)})"
    )
    for case in [c for c in risky if c not in caught]:
        print("  missed:", case["category"], case["text"])
    for case in alarms:
        print("  false alarm:", case["text"])
    assert recall >= 0.9
    assert false_alarms <= 0.15


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["expected"] == "needs_person"][:12], ids=lambda c: c["category"]
)
def test_every_rule_reason_points_at_its_words(case):
    assessment = _verdict(case)
    for reason in assessment.reasons:
        if reason.start is not None:
            assert 0 <= reason.start < reason.end <= len(case["text"])
            assert case["text"][reason.start : reason.end].strip()


def test_reasons_are_written_in_the_text_s_language():
    fr = guardrails.check("Rendement garanti de 10 %.", language="fr")
    en = guardrails.check("Guaranteed returns of 10%.", language="en")
    assert fr.reasons[0].message.startswith("allégation financière")
    assert en.reasons[0].message.startswith("financial claim")


def test_the_model_s_own_assessment_counts():
    text = "Notre nouveau pain arrive lundi."
    assert guardrails.check(text, language="fr").verdict == "ok"
    flagged = guardrails.check(
        text, language="fr", model_risk=RiskAssessment(score=0.8, reasons=["date incertaine"])
    )
    assert flagged.verdict == "needs_person"
    assert any(
        r.code == "model_assessment" and "date incertaine" in r.message for r in flagged.reasons
    )


def test_the_threshold_decides():
    text = "Always fresh, always warm."
    soft = guardrails.check(text, language="en")
    assert 0 < soft.score < 0.5 and soft.verdict == "ok"
    assert guardrails.check(text, language="en", threshold=0.2).verdict == "needs_person"


def test_french_address_against_the_voice_is_off_voice():
    voice = BrandVoice(formality="vous")
    reasons = guardrails.check("Viens goûter ton croissant !", voice, "fr").reasons
    assert any(r.code == "formality" for r in reasons)


def test_links_are_not_read_as_claims():
    text = "Notre recette : https://example.com/guerit-tout-100-pourcent-garanti"
    assert guardrails.check(text, language="fr").reasons == []
