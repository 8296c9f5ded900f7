"""A brand's provider chain: RetryLater (429, 5xx, timeouts) and bad output move on to the
next provider; other errors stop; every attempt is a recorded run."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from services.generation.ai import AIConfig, BrandAI
from services.generation.handlers import make_handlers
from services.generation.models import Brief, GenerationRun

from .conftest import brief_event, handle, make_deps, new_tenant

CONFIG = AIConfig.model_validate(
    {
        "providers": {
            "openai": {"api_key": "sk-test", "base_url": "https://openai.test/v1"},
            "anthropic": {"api_key": "sk-ant", "base_url": "https://anthropic.test"},
            "mistral": {"api_key": "mk", "base_url": "https://mistral.test/v1"},
        }
    }
)


def transport(answers: dict[str, httpx.Response | Exception]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers[request.url.host]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.Client(transport=httpx.MockTransport(handler))


def runs(session) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    rows = session.scalars(select(GenerationRun).order_by(GenerationRun.created_at)).all()
    return [(r.provider, r.outcome) for r in rows]


def test_rate_limit_then_timeout_then_the_local_provider(networks, session_factory, session):
    tenant = new_tenant(
        session_factory,
        ai={
            "provider": "openai",
            "model": "gpt-4o-mini",
            "timeout": 3,
            "fallback": [{"provider": "anthropic", "model": "claude-sonnet-4-5"}, "local"],
        },
    )
    http = transport(
        {
            "openai.test": httpx.Response(
                429,
                headers={"retry-after": "20"},
                json={"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
            ),
            "anthropic.test": httpx.ReadTimeout("no answer"),
        }
    )
    handlers = make_handlers(make_deps(networks, CONFIG, http))
    events = handle(handlers, session_factory, brief_event(tenant, networks=["sandbox"]))
    assert events and all(e.data.provider == "local" for e in events)
    assert runs(session) == [
        ("openai", "retry_later"),
        ("anthropic", "retry_later"),
        ("local", "ok"),
    ]
    errors = [r.error for r in session.scalars(select(GenerationRun)).all()]
    assert "429" in errors[0] and "3 s" in errors[1]


def test_a_server_error_and_malformed_json_move_on_to_a_working_provider(
    networks, session_factory, session
):
    tenant = new_tenant(session_factory, ai={"provider": "mistral", "fallback": ["openai"]})
    answer = {
        "variants": [{"text": "Le levain du matin est là.", "description": "annonce"}],
        "hashtags": [{"tag": "Levain", "why": "sujet"}],
        "reasons": [],
        "risk": {"score": 0.0, "reasons": []},
    }
    http = transport(
        {
            "mistral.test": httpx.Response(
                200,
                json={
                    "choices": [
                        {
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": '{"variants": [{"text": '},
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                },
            ),
            "openai.test": httpx.Response(
                200,
                json={
                    "model": "gpt-4o-mini",
                    "choices": [
                        {
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": json.dumps(answer)},
                        }
                    ],
                    "usage": {"prompt_tokens": 1000, "completion_tokens": 200},
                },
            ),
        }
    )
    handlers = make_handlers(make_deps(networks, CONFIG, http))
    events = handle(
        handlers, session_factory, brief_event(tenant, networks=["sandbox"], variants=1)
    )
    assert [e.data.provider for e in events] == ["openai"]
    assert events[0].data.text.startswith("Le levain du matin est là.")
    assert runs(session) == [("mistral", "bad_output"), ("openai", "ok")]
    ok = session.scalars(select(GenerationRun).where(GenerationRun.outcome == "ok")).one()
    assert (ok.input_tokens, ok.output_tokens, ok.model) == (1000, 200, "gpt-4o-mini")
    assert ok.cost > 0 and ok.cost_known


def test_a_bad_key_stops_the_chain_and_fails_the_brief(networks, session_factory, session):
    tenant = new_tenant(session_factory, ai={"provider": "openai", "fallback": ["local"]})
    http = transport(
        {
            "openai.test": httpx.Response(
                401,
                json={
                    "error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}
                },
            )
        }
    )
    handlers = make_handlers(make_deps(networks, CONFIG, http))
    assert handle(handlers, session_factory, brief_event(tenant)) == []
    brief = session.get(Brief, "b" * 32)
    assert brief.status == "failed" and "Incorrect API key" in brief.failure_reason
    assert runs(session) == [("openai", "error")]


def test_every_provider_down_fails_the_brief_with_each_reason(networks, session_factory, session):
    tenant = new_tenant(session_factory, ai={"provider": "openai", "fallback": ["anthropic"]})
    http = transport(
        {
            "openai.test": httpx.Response(503, json={"error": {"message": "overloaded"}}),
            "anthropic.test": httpx.Response(
                529,
                json={
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "Overloaded"},
                },
            ),
        }
    )
    handlers = make_handlers(make_deps(networks, CONFIG, http))
    assert handle(handlers, session_factory, brief_event(tenant)) == []
    brief = session.get(Brief, "b" * 32)
    assert brief.status == "failed"
    assert "503" in brief.failure_reason and "overloaded_error" in brief.failure_reason


def test_an_unconfigured_provider_is_an_error_not_a_crash(networks, session_factory, session):
    tenant = new_tenant(session_factory, ai={"provider": "does-not-exist"})
    handlers = make_handlers(make_deps(networks))
    assert handle(handlers, session_factory, brief_event(tenant)) == []
    assert "not configured" in session.get(Brief, "b" * 32).failure_reason


def test_brand_ai_settings_are_read_leniently():
    settings = BrandAI.model_validate(
        {"provider": "openai", "timeout_s": 12, "fallback": "local", "unknown": 1}
    )
    assert [s.provider for s in settings.chain()] == ["openai", "local"]
    assert BrandAI().chain()[0].provider == "local"
