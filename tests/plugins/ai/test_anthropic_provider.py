"""The Anthropic provider against the documented Messages API shapes."""

from __future__ import annotations

import httpx
import pytest
from provider_helpers import ANSWER, body_of, client, recorded

from plugins.ai.anthropic import AnthropicConfig, AnthropicProvider
from plugins.ai.base import BadOutput, PriceTable, ProviderError, RetryLater


def message(content: list[dict], stop_reason: str = "tool_use") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 2000, "output_tokens": 400},
        },
    )


def tool_use(request_, payload: dict) -> dict:
    return {"type": "tool_use", "id": "toolu_01", "name": request_.schema_name, "input": payload}


def provider(http: httpx.Client) -> AnthropicProvider:
    return AnthropicProvider(
        AnthropicConfig(api_key="sk-ant-test"), prices=PriceTable.load(), http=http
    )


def error(status: int, kind: str, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        headers=headers or {},
        json={
            "type": "error",
            "error": {"type": kind, "message": f"{kind} happened"},
            "request_id": "req_1",
        },
    )


def test_structured_output_goes_through_a_forced_tool(request_):
    http, seen = recorded([message([tool_use(request_, ANSWER)])])
    generation = provider(http).generate(request_)
    sent = seen[0]
    assert str(sent.url) == "https://api.anthropic.com/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    body = body_of(sent)
    assert body["system"] == "Tu es le CM."
    assert body["messages"] == [{"role": "user", "content": "<brief>{}</brief>"}]
    assert body["max_tokens"] == 800 and body["model"] == "test-model"
    assert body["tools"][0]["name"] == request_.schema_name
    assert body["tools"][0]["input_schema"] == request_.schema
    assert body["tool_choice"] == {"type": "tool", "name": request_.schema_name}
    assert len(generation.output.variants) == 2
    assert (generation.usage.input_tokens, generation.usage.output_tokens) == (2000, 400)
    assert generation.cost == pytest.approx((2000 * 3.0 + 400 * 15.0) / 1e6)


def test_429_with_retry_after_is_retry_later(request_):
    http, _ = recorded([error(429, "rate_limit_error", {"retry-after": "12"})])
    with pytest.raises(RetryLater) as caught:
        provider(http).generate(request_)
    assert caught.value.after == 12.0


@pytest.mark.parametrize(("status", "kind"), [(500, "api_error"), (529, "overloaded_error")])
def test_server_errors_and_overload_are_retry_later(request_, status, kind):
    http, _ = recorded([error(status, kind)])
    with pytest.raises(RetryLater, match=kind):
        provider(http).generate(request_)


def test_invalid_request_is_a_provider_error(request_):
    http, _ = recorded([error(400, "invalid_request_error")])
    with pytest.raises(ProviderError) as caught:
        provider(http).generate(request_)
    assert not isinstance(caught.value, RetryLater)


def test_a_timeout_is_retry_later(request_):
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(RetryLater):
        provider(client(slow)).generate(request_)


def test_an_answer_without_the_tool_call_is_bad_output(request_):
    http, _ = recorded([message([{"type": "text", "text": "Here are your posts"}], "end_turn")])
    with pytest.raises(BadOutput, match="tool call"):
        provider(http).generate(request_)


def test_tool_input_that_misses_the_schema_is_bad_output(request_):
    http, _ = recorded([message([tool_use(request_, {"variants": "not a list"})])])
    with pytest.raises(BadOutput):
        provider(http).generate(request_)


def test_no_key_is_a_provider_error_before_any_call(request_):
    http, seen = recorded([message([])])
    with pytest.raises(ProviderError, match="no API key"):
        AnthropicProvider(AnthropicConfig(), http=http).generate(request_)
    assert seen == []
