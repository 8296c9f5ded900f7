"""The OpenAI-compatible provider against the documented chat-completions shapes."""

from __future__ import annotations

import json

import httpx
import pytest
from provider_helpers import ANSWER, body_of, client, recorded

from plugins.ai.base import BadOutput, PriceTable, ProviderError, RetryLater
from plugins.ai.openai import OpenAICompatibleProvider, OpenAIConfig, _reset_seconds


def completion(content: str, finish_reason: str = "stop", **extra: object) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish_reason,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                }
            ],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
            **extra,
        },
    )


def provider(http: httpx.Client, **config: object) -> OpenAICompatibleProvider:
    prices = PriceTable.load(overrides={"gpt-4o-mini-2024-07-18": {"input": 0.15, "output": 0.6}})
    settings = OpenAIConfig.model_validate({"api_key": "sk-test", **config})
    return OpenAICompatibleProvider(settings, prices=prices, http=http)


def test_request_follows_the_chat_completions_shape_with_a_strict_json_schema(request_):
    http, seen = recorded([completion(json.dumps(ANSWER))])
    generation = provider(http).generate(request_)
    sent = seen[0]
    assert sent.method == "POST" and str(sent.url) == "https://api.openai.com/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    body = body_of(sent)
    assert body["model"] == "test-model"
    assert body["messages"] == [
        {"role": "system", "content": "Tu es le CM."},
        {"role": "user", "content": "<brief>{}</brief>"},
    ]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == request_.schema
    assert body["max_completion_tokens"] == 800
    assert [v.text for v in generation.output.variants] == [v["text"] for v in ANSWER["variants"]]
    assert generation.output.risk is not None and generation.output.risk.score == 0.1
    assert (generation.usage.input_tokens, generation.usage.output_tokens) == (1200, 300)
    assert generation.cost == pytest.approx((1200 * 0.15 + 300 * 0.6) / 1e6)
    assert generation.cost_known


def test_an_unpriced_model_costs_nothing_and_says_so(request_):
    http, _ = recorded([completion(json.dumps(ANSWER), model="llama3.2")])
    generation = provider(http, base_url="http://localhost:11434/v1").generate(request_)
    assert generation.model == "llama3.2" and generation.cost == 0 and not generation.cost_known


def test_ollama_and_mistral_settings_send_no_key_and_max_tokens(request_):
    http, seen = recorded([completion(json.dumps(ANSWER))])
    settings = OpenAIConfig(
        base_url="http://localhost:11434/v1",
        token_parameter="max_tokens",
        response_format="json_object",
    )
    OpenAICompatibleProvider(settings, http=http).generate(request_)
    sent = seen[0]
    assert "authorization" not in sent.headers
    assert str(sent.url) == "http://localhost:11434/v1/chat/completions"
    body = body_of(sent)
    assert body["max_tokens"] == 800 and "max_completion_tokens" not in body
    assert body["response_format"] == {"type": "json_object"}
    assert (
        "JSON" in body["messages"][0]["content"] and '"variants"' in body["messages"][0]["content"]
    )


def test_429_with_retry_after_is_retry_later_with_the_wait(request_):
    http, _ = recorded(
        [
            httpx.Response(
                429,
                headers={"retry-after": "7"},
                json={
                    "error": {
                        "message": "Rate limit reached",
                        "type": "requests",
                        "code": "rate_limit_exceeded",
                    }
                },
            )
        ]
    )
    with pytest.raises(RetryLater) as caught:
        provider(http).generate(request_)
    assert caught.value.after == 7.0


def test_429_without_retry_after_uses_the_rate_limit_reset_header(request_):
    http, _ = recorded(
        [
            httpx.Response(
                429,
                headers={"x-ratelimit-reset-requests": "1m30s"},
                json={"error": {"message": "slow down", "code": None}},
            )
        ]
    )
    with pytest.raises(RetryLater) as caught:
        provider(http).generate(request_)
    assert caught.value.after == 90.0
    assert _reset_seconds("120ms") == pytest.approx(0.12)


def test_insufficient_quota_is_not_retried(request_):
    http, _ = recorded(
        [
            httpx.Response(
                429,
                json={
                    "error": {
                        "message": "You exceeded your current quota",
                        "type": "insufficient_quota",
                        "code": "insufficient_quota",
                    }
                },
            )
        ]
    )
    with pytest.raises(ProviderError) as caught:
        provider(http).generate(request_)
    assert not isinstance(caught.value, RetryLater)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retry_later(request_, status):
    http, _ = recorded([httpx.Response(status, json={"error": {"message": "boom"}})])
    with pytest.raises(RetryLater):
        provider(http).generate(request_)


def test_a_bad_key_is_a_provider_error(request_):
    http, _ = recorded(
        [
            httpx.Response(
                401, json={"error": {"message": "Incorrect API key", "code": "invalid_api_key"}}
            )
        ]
    )
    with pytest.raises(ProviderError, match="401") as caught:
        provider(http).generate(request_)
    assert not isinstance(caught.value, RetryLater)


def test_a_timeout_is_retry_later(request_):
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    with pytest.raises(RetryLater, match="no answer within 5 s"):
        provider(client(slow)).generate(request_)


@pytest.mark.parametrize(
    "content",
    [
        '{"variants": [',
        "Voici vos posts !",
        '{"hashtags": []}',
        '{"variants": [{"description": "no text"}]}',
    ],
)
def test_malformed_output_from_the_model_is_bad_output(request_, content):
    http, _ = recorded([completion(content)])
    with pytest.raises(BadOutput):
        provider(http).generate(request_)


def test_a_truncated_answer_is_bad_output(request_):
    http, _ = recorded([completion(json.dumps(ANSWER)[:40], finish_reason="length")])
    with pytest.raises(BadOutput, match="cut"):
        provider(http).generate(request_)


def test_a_refusal_is_bad_output(request_):
    refusal = httpx.Response(
        200,
        json={
            "choices": [
                {
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "refusal": "I can't help with that.",
                    },
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        },
    )
    http, _ = recorded([refusal])
    with pytest.raises(BadOutput, match="refused"):
        provider(http).generate(request_)


def test_ollama_error_bodies_are_understood(request_):
    http, _ = recorded([httpx.Response(404, json={"error": "model 'llama9' not found"})])
    with pytest.raises(ProviderError, match="llama9"):
        provider(http, base_url="http://localhost:11434/v1").generate(request_)
