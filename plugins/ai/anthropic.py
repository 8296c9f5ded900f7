"""Anthropic's Messages API, with structured output through a forced tool call.

`POST {base_url}/v1/messages` with `x-api-key` and `anthropic-version: 2023-06-01`; the answer's
JSON schema is the `input_schema` of one tool and `tool_choice` forces that tool, so the
structured output is the `input` of the `tool_use` content block. Usage from
`usage.input_tokens` and `usage.output_tokens`. Errors `{"type": "error", "error": {type,
message}}`: 429 rate_limit_error (RetryLater, honouring `retry-after`), 500 api_error and
529 overloaded_error (RetryLater), timeouts (RetryLater), the rest ProviderError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

API_VERSION = "2023-06-01"
RETRY_STATUSES = {408, 429, 500, 502, 503, 504, 529}


@hookimpl
def register_providers(register: Callable[[type], None]) -> None:
    register(AnthropicProvider)


class AnthropicConfig(ProviderConfig):
    base_url: str = Field(
        default="https://api.anthropic.com", description="Root of the API (without /v1)."
    )
    api_key: SecretStr | None = Field(default=None, description="The x-api-key; required.")
    default_model: str | None = Field(
        default="claude-sonnet-4-5", description="Model used when the brand names none."
    )
    version: str = Field(default=API_VERSION, description="The anthropic-version header.")


class AnthropicProvider(Provider):
    name = "anthropic"
    display_name = "Anthropic Messages API"
    config_model = AnthropicConfig
    config: AnthropicConfig

    def _body(self, model: str, request: GenerationRequest) -> dict[str, Any]:
        return {
            "model": model,
            "max_tokens": request.max_output_tokens,
            "system": request.system,
            "messages": [{"role": "user", "content": request.user}],
            "tools": [
                {
                    "name": request.schema_name,
                    "description": "Record the answer: variants, hashtags, reasons and risk.",
                    "input_schema": request.schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": request.schema_name},
        }

    def generate(self, request: GenerationRequest) -> Generation:
        if self.config.api_key is None or not self.config.api_key.get_secret_value():
            raise ProviderError(f"{self.display_name}: no API key configured")
        model = self.model_for(request)
        label = self.name
        headers = {
            "x-api-key": self.config.api_key.get_secret_value(),
            "anthropic-version": self.config.version,
            "content-type": "application/json",
        }
        response = post_json(
            self.http,
            label,
            f"{self.config.base_url.rstrip('/')}/v1/messages",
            headers=headers,
            body=self._body(model, request),
            timeout_s=request.timeout_s,
        )
        if response.status_code >= 400:
            raise self._error(label, response)
        body = response_json(label, response)
        if body.get("stop_reason") == "max_tokens":
            raise BadOutput(f"{label}: the answer was cut at max_tokens")
        tool_input = next(
            (
                block.get("input")
                for block in body.get("content") or []
                if isinstance(block, dict)
                and block.get("type") == "tool_use"
                and block.get("name") == request.schema_name
            ),
            None,
        )
        if not isinstance(tool_input, dict):
            raise BadOutput(f"{label}: the answer has no {request.schema_name} tool call")
        usage = body.get("usage") or {}
        return self.finish(
            body.get("model") or model,
            parse_output(tool_input),
            Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))),
        )

    def _error(self, label: str, response: Any) -> ProviderError:
        status = response.status_code
        try:
            error = (response.json() or {}).get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        kind = error.get("type", "") if isinstance(error, dict) else ""
        message = error.get("message", "") if isinstance(error, dict) else ""
        reason = f"{label}: HTTP {status} {kind} {message}".strip()[:500]
        if status in RETRY_STATUSES:
            return RetryLater(reason, retry_after(response))
        return ProviderError(reason)
