"""Any OpenAI-compatible chat-completions endpoint: OpenAI, Mistral, Ollama's `/v1`, vLLM.

`POST {base_url}/chat/completions` with `Authorization: Bearer <key>` (no header when no key:
Ollama and most vLLM servers need none), `response_format` `json_schema` (strict) or
`json_object` for servers without schema support; usage from `usage.prompt_tokens` and
`usage.completion_tokens`. Errors `{"error": {message, type, code}}`: 429 is a rate limit
(RetryLater, honouring `Retry-After`) unless its code is `insufficient_quota` (not retried),
5xx and timeouts are RetryLater, the rest ProviderError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, SecretStr

from plugins.ai.base import (
    BadOutput,
    Generation,
    GenerationRequest,
    Provider,
    ProviderConfig,
    ProviderError,
    RetryLater,
    Usage,
    parse_output,
    post_json,
    response_json,
    retry_after,
)
from plugins.ai.hookspecs import hookimpl

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$"
)


@hookimpl
def register_providers(register: Callable[[type], None]) -> None:
    register(OpenAICompatibleProvider)


class OpenAIConfig(ProviderConfig):
    base_url: str = Field(
        default="https://api.openai.com/v1",
        description="Root of the API, up to /v1 (Mistral: https://api.mistral.ai/v1, "
        "Ollama: http://localhost:11434/v1).",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Bearer key; none for Ollama or an open vLLM."
    )
    default_model: str | None = Field(
        default="gpt-4o-mini", description="Model used when the brand names none."
    )
    response_format: Literal["json_schema", "json_object"] = Field(
        default="json_schema",
        description=(
            "json_schema (strict structured output), or json_object for servers without schemas."
        ),
    )
    token_parameter: Literal["max_completion_tokens", "max_tokens"] = Field(
        default="max_completion_tokens",
        description=(
            "Name of the output-token limit (OpenAI: max_completion_tokens; "
            "Mistral, Ollama: max_tokens)."
        ),
    )
    organization: str | None = Field(
        default=None, description="OpenAI-Organization header, if any."
    )


def _reset_seconds(value: str | None) -> float | None:
    """`x-ratelimit-reset-requests` values like `6m0s`, `1.5s` or `120ms`."""
    if not value:
        return None
    match = _DURATION.match(value.strip())
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds, millis = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


class OpenAICompatibleProvider(Provider):
    name = "openai"
    display_name = "OpenAI-compatible chat completions"
    config_model = OpenAIConfig
    config: OpenAIConfig

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.config.api_key is not None and self.config.api_key.get_secret_value():
            headers["authorization"] = f"Bearer {self.config.api_key.get_secret_value()}"
        if self.config.organization:
            headers["openai-organization"] = self.config.organization
        return headers

    def _body(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        if self.config.response_format == "json_schema":
            response_format: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": request.schema,
                    "strict": True,
                },
            }
            system = request.system
        else:
            response_format = {"type": "json_object"}
            # JSON mode needs the instruction (and the shape) in the prompt itself.
            system = (
                f"{request.system}\n\nAnswer with one JSON object only, matching this JSON "
                f"schema:\n{json.dumps(request.schema, ensure_ascii=False)}"
            )
        return {
            "model": model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": request.user},
            ],
            "response_format": response_format,
            self.config.token_parameter: request.max_output_tokens,
        }

    def generate(self, request: GenerationRequest) -> Generation:
        model = self.model_for(request)
        label = f"{self.name} ({self.config.base_url})"
        response = post_json(
            self.http,
            label,
            f"{self.config.base_url.rstrip('/')}/chat/completions",
            headers=self._headers(),
            body=self._body(model, request),
            timeout_s=request.timeout_s,
        )
        if response.status_code >= 400:
            raise self._error(label, response)
        body = response_json(label, response)
        try:
            choice = body["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise BadOutput(f"{label}: no choices in the answer") from None
        if message.get("refusal"):
            raise BadOutput(f"{label}: the model refused: {message['refusal']}"[:500])
        if choice.get("finish_reason") == "length":
            raise BadOutput(f"{label}: the answer was cut at the output-token limit")
        content = message.get("content")
        if not isinstance(content, str):
            raise BadOutput(f"{label}: the answer has no text content")
        usage = body.get("usage") or {}
        return self.finish(
            body.get("model") or model,
            parse_output(content),
            Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
        )

    def _error(self, label: str, response: Any) -> ProviderError:
        status = response.status_code
        try:
            payload = response.json()
            error = payload.get("error") if isinstance(payload, dict) else None
        except ValueError:
            error = None
        if isinstance(error, dict):
            message, code = (
                str(error.get("message", "")),
                str(error.get("code") or error.get("type") or ""),
            )
        else:  # Ollama: {"error": "..."}
            message, code = str(error or response.text[:300]), ""
        reason = f"{label}: HTTP {status} {code} {message}".strip()[:500]
        if status == 429 and code == "insufficient_quota":
            return ProviderError(reason)
        if status in RETRY_STATUSES:
            after = retry_after(response)
            if after is None:
                after = _reset_seconds(response.headers.get("x-ratelimit-reset-requests"))
            return RetryLater(reason, after)
        return ProviderError(reason)
