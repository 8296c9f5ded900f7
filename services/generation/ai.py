"""Which AI provider a brand uses, and calling it with the brand's fallback chain.

- `AIConfig`: the deployment's providers (`ai.toml`: `[providers.<name>]` tables with the
  plugin, base URL, key, default model; `[prices."<model>"]` overrides of the price table).
  `local` is always there and needs nothing.
- `BrandAI`: a brand's choice (the `ai` JSON of a brand): provider, model, timeout, fallback
  chain, risk threshold.
- `generate_with_fallback`: tries each step of the chain; a step that answers RetryLater
  (429, 5xx, timeouts) or BadOutput hands over to the next; any other error stops the chain.
  Every attempt is returned so the caller records it.
"""

from __future__ import annotations

import dataclasses
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from plugins.ai import ProviderRegistry, UnknownProvider
from plugins.ai.base import (
    BadOutput,
    Generation,
    GenerationRequest,
    ModelPrice,
    PriceTable,
    Provider,
    ProviderError,
    RetryLater,
)
from shared.models import Brand

# Entries that work by name without an ai.toml table (a key is still needed for Mistral).
BUILTIN_ENTRIES: dict[str, dict[str, Any]] = {
    "mistral": {
        "plugin": "openai",
        "base_url": "https://api.mistral.ai/v1",
        "token_parameter": "max_tokens",
        "default_model": "mistral-small-latest",
    },
    "ollama": {
        "plugin": "openai",
        "base_url": "http://localhost:11434/v1",
        "token_parameter": "max_tokens",
        "default_model": "llama3.2",
    },
}


class AIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "Provider entries by name: plugin (default: the name), base_url, api_key, "
            "default_model..."
        ),
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="Price overrides per model."
    )

    @classmethod
    def load(cls, path: Path | None) -> AIConfig:
        if path is None or not path.exists():
            return cls()
        with path.open("rb") as handle:
            return cls.model_validate(tomllib.load(handle))


class FallbackStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str
    model: str | None = None


class BrandAI(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    provider: str = Field(default="local", description="A provider entry of ai.toml, or local.")
    model: str | None = Field(
        default=None, description="Model of the provider (default: its default_model)."
    )
    timeout_s: float = Field(default=30.0, gt=0, le=600, description="Timeout of one call.")
    fallback: list[FallbackStep] = Field(
        default=[],
        description="Tried in order when the provider is rate limited, down or times out.",
    )
    risk_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Risk score from which a draft needs a person."
    )
    max_output_tokens: int = Field(default=1500, ge=100, le=16000)

    @field_validator("fallback", mode="before")
    @classmethod
    def _steps(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        return [{"provider": step} if isinstance(step, str) else step for step in value or []]

    @classmethod
    def of(cls, brand: Brand | None) -> BrandAI:
        raw = dict(brand.ai or {}) if brand is not None else {}
        if "timeout" in raw and "timeout_s" not in raw:
            raw["timeout_s"] = raw.pop("timeout")
        try:
            return cls.model_validate(raw)
        except ValidationError as error:
            raise ValueError(f"the brand's AI settings are invalid: {error}"[:800]) from None

    def chain(self) -> list[FallbackStep]:
        first = FallbackStep(provider=self.provider, model=self.model)
        steps = [first, *self.fallback]
        seen: set[tuple[str, str | None]] = set()
        return [
            s
            for s in steps
            if (s.provider, s.model) not in seen and not seen.add((s.provider, s.model))
        ]  # type: ignore[func-returns-value]


class ProviderPool:
    """Provider instances by entry name, built once from the registry and the config."""

    def __init__(
        self,
        registry: ProviderRegistry,
        config: AIConfig | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.registry = registry
        self.config = config or AIConfig()
        self.prices = PriceTable.load(
            overrides={k: v.model_dump() for k, v in self.config.prices.items()}
        )
        self.http = http
        self._instances: dict[str, Provider] = {}

    def get(self, name: str) -> Provider:
        if name not in self._instances:
            entry = {**BUILTIN_ENTRIES.get(name, {}), **self.config.providers.get(name, {})}
            if not entry and name not in self.registry.names():
                raise ProviderError(f"the AI provider {name!r} is not configured (ai.toml)")
            plugin = entry.get("plugin") or name
            try:  # setdefault: two consumer threads may build it at once; the first one is kept
                self._instances.setdefault(name, self.registry.create(
                    plugin, entry, prices=self.prices, http=self.http
                ))
            except UnknownProvider as error:
                raise ProviderError(str(error)) from None
            except ValidationError as error:
                raise ProviderError(
                    f"the AI provider {name!r} is misconfigured: {error}"[:800]
                ) from None
        return self._instances[name]


@dataclass(frozen=True)
class Attempt:
    provider: str
    model: str
    outcome: str  # ok, retry_later, bad_output, error
    error: str = ""
    generation: Generation | None = None
    duration_ms: int = 0


def generate_with_fallback(
    pool: ProviderPool, brand_ai: BrandAI, request: GenerationRequest
) -> list[Attempt]:
    """Attempts in order; the last one has a generation when one step succeeded."""
    attempts: list[Attempt] = []
    for step in brand_ai.chain():
        started = time.monotonic()
        model = step.model or ""
        try:
            provider = pool.get(step.provider)
            model = step.model or provider.config.default_model or ""
            call = dataclasses.replace(
                request,
                model=model or None,
                timeout_s=brand_ai.timeout_s,
                max_output_tokens=brand_ai.max_output_tokens,
            )
            generation = provider.generate(call)
        except RetryLater as error:
            attempts.append(
                Attempt(step.provider, model, "retry_later", error.reason, duration_ms=_ms(started))
            )
            continue
        except BadOutput as error:
            attempts.append(
                Attempt(step.provider, model, "bad_output", error.reason, duration_ms=_ms(started))
            )
            continue
        except ProviderError as error:
            attempts.append(
                Attempt(step.provider, model, "error", error.reason, duration_ms=_ms(started))
            )
            break
        attempts.append(
            Attempt(
                step.provider,
                generation.model,
                "ok",
                generation=generation,
                duration_ms=_ms(started),
            )
        )
        break
    return attempts


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
