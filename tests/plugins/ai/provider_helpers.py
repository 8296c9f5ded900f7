"""Helpers of the AI provider tests: a structured answer and mocked HTTP clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

ANSWER: dict[str, Any] = {
    "variants": [
        {"text": "Notre pain au levain sort du four à 7h.", "description": "annonce"},
        {"text": "Envie de pain chaud ? Rendez-vous à 7h.", "description": "question"},
    ],
    "hashtags": [{"tag": "PainAuLevain", "why": "le sujet"}],
    "reasons": ["suit le brief"],
    "risk": {"score": 0.1, "reasons": ["aucun sujet sensible"]},
}


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def recorded(responses: list[httpx.Response]) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client answering `responses` in turn, and the requests it received."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen) - 1, len(responses) - 1)]

    return client(handler), seen


def body_of(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)
