"""Fixtures of the AI provider tests."""

from __future__ import annotations

import pytest

from plugins.ai.base import OUTPUT_SCHEMA, GenerationRequest


@pytest.fixture
def request_() -> GenerationRequest:
    return GenerationRequest(
        task="draft",
        system="Tu es le CM.",
        user="<brief>{}</brief>",
        schema=OUTPUT_SCHEMA,
        model="test-model",
        timeout_s=5.0,
        max_output_tokens=800,
        language="fr",
    )
