"""Calling the brand's providers for one task and recording every attempt as a run."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx
from sqlalchemy.orm import Session

from plugins.ai.base import OUTPUT_SCHEMA, Generation, GenerationRequest
from plugins.networks import NetworkRegistry
from plugins.networks.base import NetworkAdapter
from services.generation.ai import BrandAI, ProviderPool, generate_with_fallback
from services.generation.models import GenerationRun
from services.generation.prompts import Prompt


@dataclass
class GenerationDeps:
    """What the handlers need beyond the event and the session (built by main.py)."""

    providers: ProviderPool
    networks: NetworkRegistry
    _adapters: dict[str, NetworkAdapter] = field(default_factory=dict, repr=False)
    _http: httpx.Client | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def adapter(self, network: str) -> NetworkAdapter:
        """The network's adapter, built once (the consumer's threads share it): generation
        only validates text with it, so one shared HTTP client (never used here) spares
        building one per draft."""
        with self._lock:
            if network not in self._adapters:
                if self._http is None:
                    self._http = httpx.Client(timeout=httpx.Timeout(20.0, connect=5.0))
                self._adapters[network] = self.networks.create(network, http=self._http)
            return self._adapters[network]


def run_generation(
    session: Session,
    deps: GenerationDeps,
    *,
    agency_id: str,
    brand_id: str,
    brand_ai: BrandAI,
    prompt: Prompt,
    task: str,
    language: str,
    facts: dict,
    brief_id: str | None = None,  # type: ignore[type-arg]
    mention_id: str | None = None,
) -> tuple[Generation | None, list[str]]:
    """The generation (or None) and, when none, why each provider failed."""
    request = GenerationRequest(
        task=task,
        system=prompt.system,
        user=prompt.user,  # type: ignore[arg-type]
        schema=OUTPUT_SCHEMA,
        language=language,
        facts=facts,
    )
    attempts = generate_with_fallback(deps.providers, brand_ai, request)
    for attempt in attempts:
        generation = attempt.generation
        session.add(
            GenerationRun(
                agency_id=agency_id,
                brand_id=brand_id,
                brief_id=brief_id,
                mention_id=mention_id,
                task=task,
                prompt=prompt.name,
                provider=attempt.provider,
                model=attempt.model,
                outcome=attempt.outcome,
                error=attempt.error[:2000],
                input_tokens=generation.usage.input_tokens if generation else 0,
                output_tokens=generation.usage.output_tokens if generation else 0,
                cost=generation.cost if generation else 0.0,
                cost_known=generation.cost_known if generation else True,
                duration_ms=attempt.duration_ms,
            )
        )
    last = attempts[-1] if attempts else None
    if last is not None and last.generation is not None:
        return last.generation, []
    return None, [f"{a.provider}: {a.error}" for a in attempts]
