"""The contract every AI provider implements, and the values it exchanges.

The generation service only ever sees `Provider`, `GenerationRequest` and `Generation`; it
never imports a provider by name. Providers translate their API's errors at the edge:

- `RetryLater(after)`: the provider asked us to wait or is unwell (429, 5xx, 529, timeouts);
  the caller moves on to the next provider of the brand's fallback chain;
- `BadOutput`: the model answered, but not with the structured output asked for
  (malformed JSON, missing fields, truncated answer); the chain moves on too;
- `ProviderError`: anything else (bad key, bad request, quota exhausted); not retried.
"""

from __future__ import annotations

import json
import tomllib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PRICES_FILE = Path(__file__).with_name("prices.toml")


# --- errors ---------------------------------------------------------------------------


class ProviderError(Exception):
    """The provider failed in a way that waiting will not fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(ProviderError):
    """Rate limited, overloaded, a 5xx or a timeout: try again later or elsewhere."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class BadOutput(ProviderError):
    """The model's answer is not the structured output that was asked for."""


# --- what goes in ---------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationRequest:
    """One call to a model.

    `system` and `user` are the prompts remote models read; `schema` is the JSON schema of
    the answer. `facts` carries the same inputs as structured data (the brief, or the
    mention and the brand's voice) for providers that do not read prompts, like `local`.
    """

    task: Literal["draft", "reply"]
    system: str
    user: str
    schema: dict[str, Any]
    schema_name: str = "tamtam_drafts"
    model: str | None = None
    timeout_s: float = 30.0
    max_output_tokens: int = 1500
    language: str = "fr"
    facts: dict[str, Any] = field(default_factory=dict)


# --- what comes out -------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class VariantOut(_Out):
    text: str = Field(min_length=1)
    description: str = ""


class HashtagOut(_Out):
    tag: str = Field(min_length=1)
    why: str = ""


class RiskAssessment(_Out):
    score: float = Field(ge=0.0, le=1.0)
    reasons: list[str] = []


class StructuredOutput(_Out):
    variants: list[VariantOut] = Field(min_length=1)
    hashtags: list[HashtagOut] = []
    reasons: list[str] = []
    risk: RiskAssessment | None = None


def _strict_object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


# Written by hand (not from the pydantic models) so it satisfies OpenAI's strict mode:
# every property required, no additional properties.
OUTPUT_SCHEMA: dict[str, Any] = _strict_object(
    {
        "variants": {
            "type": "array",
            "items": _strict_object(
                {
                    "text": {
                        "type": "string",
                        "description": "The post or reply, ready to publish, without hashtags.",
                    },
                    "description": {
                        "type": "string",
                        "description": "One line: the angle of this variant.",
                    },
                }
            ),
        },
        "hashtags": {
            "type": "array",
            "items": _strict_object(
                {
                    "tag": {"type": "string", "description": "Without the leading #."},
                    "why": {"type": "string"},
                }
            ),
        },
        "reasons": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Why these variants answer the brief.",
        },
        "risk": _strict_object(
            {
                "score": {
                    "type": "number",
                    "description": "0 (safe) to 1 (must not go out without a person).",
                },
                "reasons": {"type": "array", "items": {"type": "string"}},
            }
        ),
    }
)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Generation:
    provider: str
    model: str
    output: StructuredOutput
    usage: Usage
    cost: float = 0.0  # in the price table's currency (USD)
    cost_known: bool = True  # False when the model is not in the price table


def parse_output(raw: str | dict[str, Any]) -> StructuredOutput:
    """The model's answer as `StructuredOutput`, or `BadOutput` saying what is wrong."""
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as error:
        raise BadOutput(f"the model's answer is not JSON: {error}") from None
    try:
        return StructuredOutput.model_validate(value)
    except ValidationError as error:
        raise BadOutput(f"the model's answer does not match the schema: {error}"[:1000]) from None


# --- configuration and prices ---------------------------------------------------------


class ProviderConfig(BaseModel):
    """Base of every provider's configuration (a `[providers.<name>]` table of ai.toml)."""

    model_config = ConfigDict(extra="forbid")

    plugin: str | None = Field(
        default=None,
        description="Which provider plugin serves this entry (default: the entry's name).",
    )
    default_model: str | None = Field(
        default=None, description="Model used when the brand names none."
    )


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0, description="Price per million input tokens.")
    output: float = Field(ge=0, description="Price per million output tokens.")


class PriceTable(BaseModel):
    """Prices per model, per million tokens (USD); `plugins/ai/prices.toml` plus overrides."""

    models: dict[str, ModelPrice] = {}

    @classmethod
    def load(cls, path: Path = PRICES_FILE, overrides: dict[str, Any] | None = None) -> PriceTable:
        with path.open("rb") as handle:
            models = dict(tomllib.load(handle).get("models", {}))
        models.update(overrides or {})
        return cls.model_validate({"models": models})

    def cost(self, model: str, usage: Usage) -> tuple[float, bool]:
        price = self.models.get(model)
        if price is None:
            return 0.0, False
        total = (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000
        return round(total, 8), True


# --- the provider ---------------------------------------------------------------------


class Provider(ABC):
    """One AI provider. Built with an `httpx.Client` so tests can hand it a MockTransport."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    config_model: ClassVar[type[ProviderConfig]] = ProviderConfig
    offline: ClassVar[bool] = False  # True: no network, no key (the `local` provider)

    def __init__(
        self,
        config: ProviderConfig,
        prices: PriceTable | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.config = config
        self.prices = prices or PriceTable()
        self.http = http or httpx.Client(timeout=httpx.Timeout(60.0, connect=5.0))

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Generation:
        """Structured output for `request`; raise RetryLater, BadOutput or ProviderError."""

    def model_for(self, request: GenerationRequest) -> str:
        model = request.model or self.config.default_model
        if not model:
            raise ProviderError(
                f"{self.display_name}: no model given and no default_model configured"
            )
        return model

    def finish(self, model: str, output: StructuredOutput, usage: Usage) -> Generation:
        cost, known = self.prices.cost(model, usage)
        return Generation(
            provider=self.name, model=model, output=output, usage=usage, cost=cost, cost_known=known
        )


# --- helpers for HTTP providers -------------------------------------------------------


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), else None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def post_json(
    http: httpx.Client,
    label: str,
    url: str,
    *,
    headers: dict[str, str],
    body: dict[str, Any],
    timeout_s: float,
) -> httpx.Response:
    """POST, turning transport failures into RetryLater (the chain moves on)."""
    try:
        return http.post(url, headers=headers, json=body, timeout=timeout_s)
    except httpx.TimeoutException:
        raise RetryLater(f"{label}: no answer within {timeout_s:g} s") from None
    except httpx.TransportError as error:
        raise RetryLater(f"{label}: cannot reach the provider ({type(error).__name__})") from None


def response_json(label: str, response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise RetryLater(
            f"{label}: HTTP {response.status_code} with a body that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise BadOutput(f"{label}: unexpected response body")
    return body
