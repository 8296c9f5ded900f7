"""The Mastodon adapter against the documented request and response shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from network_fakes import Handler, recording

from plugins.networks import get_network_registry
from plugins.networks.base import (
    LOOKUP,
    REFRESH,
    Account,
    AuthExpired,
    Media,
    OutgoingPost,
    Rejected,
    RetryLater,
    Unsupported,
)
from plugins.networks.mastodon import MastodonAdapter


def make(handler: Handler) -> tuple[MastodonAdapter, list[httpx.Request]]:
    client, seen = recording(handler)
    adapter = MastodonAdapter(http=client)
    adapter.sleep = lambda seconds: None
    return adapter, seen


ACCOUNT = Account(
    id="a1",
    handle="@tamtam@masto.example",
    credentials={"access_token": "tok-123"},
    settings={"instance": "masto.example"},
)


def status(status_id: str, **extra) -> dict:
    return {
        "id": status_id,
        "url": f"https://masto.example/@tamtam/{status_id}",
        "content": "<p>x</p>",
        "in_reply_to_id": None,
        **extra,
    }


def test_is_registered_and_declares_no_refresh():
    adapter = get_network_registry(load_entrypoints=False).create("mastodon")
    assert isinstance(adapter, MastodonAdapter)
    assert adapter.supports(LOOKUP)
    assert not adapter.supports(REFRESH)
    with pytest.raises(Unsupported, match="Mastodon does not offer refresh"):
        adapter.refresh(ACCOUNT)


def test_publish_text_sends_the_status_with_bearer_and_idempotency_key():
    adapter, seen = make(lambda request: httpx.Response(200, json=status("101")))

    result = adapter.publish(
        OutgoingPost(text="Bonjour à tous", idempotency_key="k-1", language="fr"), ACCOUNT
    )

    request = seen[0]
    assert (request.method, str(request.url)) == ("POST", "https://masto.example/api/v1/statuses")
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Idempotency-Key"] == "k-1"
    assert json.loads(request.content) == {"status": "Bonjour à tous", "language": "fr"}
    assert result.external_id == "101"
    assert result.url == "https://masto.example/@tamtam/101"
    assert result.part_ids == ("101",)


def test_thread_chains_replies_each_with_its_own_idempotency_key():
    ids = iter(["201", "202", "203"])
    adapter, seen = make(lambda request: httpx.Response(200, json=status(next(ids))))

    result = adapter.publish(
        OutgoingPost(text="1/3", thread=("2/3", "3/3"), reply_to="199", idempotency_key="t"),
        ACCOUNT,
    )

    bodies = [json.loads(r.content) for r in seen]
    assert [b.get("in_reply_to_id") for b in bodies] == ["199", "201", "202"]
    assert [r.headers["Idempotency-Key"] for r in seen] == ["t", "t:1", "t:2"]
    assert result.part_ids == ("201", "202", "203")


def test_image_upload_polls_while_processing_then_attaches_media_ids():
    polls = iter(
        [
            httpx.Response(206, json={"id": "m1", "url": None}),
            httpx.Response(200, json={"id": "m1", "url": "https://files/m1.png"}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/media":
            return httpx.Response(202, json={"id": "m1", "url": None})
        if request.url.path == "/api/v1/media/m1":
            return next(polls)
        return httpx.Response(200, json=status("300"))

    adapter, seen = make(handler)
    media = Media(mime_type="image/png", alt_text="Un chat roux", content=b"\x89PNG\r\n\x1a\nrest")
    adapter.publish(OutgoingPost(text="Photo", media=(media,), idempotency_key="m"), ACCOUNT)

    upload = seen[0]
    assert upload.method == "POST"
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="description"' in upload.content and b"Un chat roux" in upload.content
    assert b'name="file"' in upload.content and b"\x89PNG" in upload.content
    assert [r.url.path for r in seen[1:3]] == ["/api/v1/media/m1", "/api/v1/media/m1"]
    assert json.loads(seen[3].content)["media_ids"] == ["m1"]


def test_429_is_retry_later_with_the_reset_time():
    reset = (datetime.now(UTC) + timedelta(seconds=120)).isoformat()
    adapter, _ = make(
        lambda r: httpx.Response(
            429, json={"error": "Too many requests"}, headers={"X-RateLimit-Reset": reset}
        )
    )
    with pytest.raises(RetryLater) as caught:
        adapter.publish(OutgoingPost(text="x", idempotency_key="k"), ACCOUNT)
    assert 100 < caught.value.after <= 120


def test_503_with_retry_after_is_retry_later():
    adapter, _ = make(lambda r: httpx.Response(503, headers={"Retry-After": "30"}))
    with pytest.raises(RetryLater) as caught:
        adapter.publish(OutgoingPost(text="x", idempotency_key="k"), ACCOUNT)
    assert caught.value.after == 30


def test_timeout_is_retry_later():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    adapter, _ = make(handler)
    with pytest.raises(RetryLater, match="in time"):
        adapter.publish(OutgoingPost(text="x", idempotency_key="k"), ACCOUNT)


def test_401_is_auth_expired_and_422_is_rejected_with_the_reason():
    adapter, _ = make(lambda r: httpx.Response(401, json={"error": "The access token is invalid"}))
    with pytest.raises(AuthExpired, match="access token is invalid"):
        adapter.publish(OutgoingPost(text="x", idempotency_key="k"), ACCOUNT)

    adapter, _ = make(
        lambda r: httpx.Response(
            422, json={"error": "Validation failed: Text character limit of 500 exceeded"}
        )
    )
    with pytest.raises(Rejected, match="character limit of 500"):
        adapter.publish(OutgoingPost(text="x", idempotency_key="k"), ACCOUNT)


def test_validate_reads_the_instance_limits_once():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v2/instance"
        return httpx.Response(
            200,
            json={
                "configuration": {
                    "statuses": {
                        "max_characters": 1000,
                        "max_media_attachments": 6,
                        "characters_reserved_per_url": 30,
                    },
                    "media_attachments": {
                        "supported_mime_types": ["image/png", "video/mp4"],
                        "image_size_limit": 1000,
                        "description_limit": 10,
                    },
                }
            },
        )

    adapter, seen = make(handler)
    long_text = "a" * 970 + " https://exemple.fr/" + "b" * 100  # 970 + 1 + 30 = 1001
    problems = adapter.validate(OutgoingPost(text=long_text), ACCOUNT)
    assert [p.code for p in problems] == ["too_long"]
    assert "1001 of 1000" in problems[0].message
    assert adapter.validate(OutgoingPost(text="a" * 969 + " https://x.fr"), ACCOUNT) == []

    media = Media(mime_type="image/jpeg", alt_text="x" * 11, size_bytes=2000)
    codes = {p.code for p in adapter.validate(OutgoingPost(text="t", media=(media,)), ACCOUNT)}
    assert codes == {"media_type", "media_too_large", "alt_text_too_long"}
    assert len(seen) == 1  # cached


def test_validate_without_account_uses_500():
    adapter, seen = make(lambda r: httpx.Response(500))
    assert [p.code for p in adapter.validate(OutgoingPost(text="a" * 501))] == ["too_long"]
    assert adapter.validate(OutgoingPost(text="@bob@very.long.domain.example " + "a" * 490)) == []
    assert seen == []


def test_find_published_matches_text_among_latest_statuses():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("verify_credentials"):
            return httpx.Response(200, json={"id": "77"})
        assert request.url.path == "/api/v1/accounts/77/statuses"
        assert request.url.params["limit"] == "40"
        return httpx.Response(
            200,
            json=[
                status("9", content="<p>Autre chose</p>"),
                status(
                    "8",
                    content='<p>Voir <a href="https://exemple.fr/a"><span class="invisible">'
                    'https://</span><span>exemple.fr/a</span></a> &amp; <span class="h-card">'
                    '<a href="https://m.x/@bob">@<span>bob</span></a></span></p><p>fin</p>',
                ),
            ],
        )

    adapter, _ = make(handler)
    found = adapter.find_published(
        OutgoingPost(text="Voir https://exemple.fr/a & @bob@m.x\n\nfin"), ACCOUNT
    )
    assert found is not None and found.external_id == "8"
    assert adapter.find_published(OutgoingPost(text="Jamais publié"), ACCOUNT) is None


def test_fetch_mentions_pages_forward_from_the_cursor():
    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlparse(str(request.url)).query)
        assert query["types[]"] == ["mention"]
        assert query["min_id"] == ["500"]
        return httpx.Response(
            200,
            json=[
                {
                    "id": "502",
                    "type": "mention",
                    "account": {"acct": "bob@m.x"},
                    "status": {
                        "id": "9002",
                        "content": "<p>@tamtam merci&nbsp;!</p>",
                        "created_at": "2026-05-01T10:00:00.000Z",
                        "url": "https://m.x/9002",
                        "in_reply_to_id": "101",
                        "account": {"acct": "bob@m.x"},
                    },
                },
                {
                    "id": "501",
                    "type": "mention",
                    "account": {"acct": "eve"},
                    "status": {
                        "id": "9001",
                        "content": "<p>hé</p>",
                        "in_reply_to_id": None,
                        "created_at": "2026-05-01T09:00:00Z",
                        "account": {"acct": "eve"},
                    },
                },
            ],
        )

    adapter, _ = make(handler)
    page = adapter.fetch_mentions(ACCOUNT, "500")
    assert page.cursor == "502"
    assert [(m.external_id, m.author, m.in_reply_to) for m in page.mentions] == [
        ("9002", "bob@m.x", "101"),
        ("9001", "eve", None),
    ]
    assert page.mentions[0].text == "@tamtam merci\xa0!"
    assert page.mentions[0].created_at == datetime(2026, 5, 1, 10, tzinfo=UTC)


def test_fetch_mentions_keeps_the_cursor_when_nothing_is_new():
    adapter, _ = make(lambda r: httpx.Response(200, json=[]))
    assert adapter.fetch_mentions(ACCOUNT, "500").cursor == "500"


def test_fetch_metrics_reads_status_counts_and_skips_deleted():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/statuses/1":
            return httpx.Response(
                200, json={"id": "1", "favourites_count": 5, "reblogs_count": 2, "replies_count": 1}
            )
        return httpx.Response(404, json={"error": "Record not found"})

    adapter, _ = make(handler)
    metrics = adapter.fetch_metrics(ACCOUNT, ["1", "2"])
    assert [(m.external_id, m.likes, m.reposts, m.replies, m.impressions) for m in metrics] == [
        ("1", 5, 2, 1, None)
    ]


def test_oauth_authorize_url_uses_pkce_s256_and_code_exchange_posts_the_verifier():
    adapter, seen = make(lambda r: httpx.Response(200, json={"access_token": "new"}))
    url, verifier = adapter.authorization_url("masto.example", "cid", "https://app/cb", "st")
    query = parse_qs(urlparse(url).query)
    assert url.startswith("https://masto.example/oauth/authorize?")
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == ["st"] and len(query["code_challenge"][0]) == 43

    credentials = adapter.exchange_code(
        "masto.example", "cid", "sec", "code", "https://app/cb", verifier
    )
    assert credentials == {"access_token": "new"}
    form = parse_qs(seen[0].content.decode())
    assert form["code_verifier"] == [verifier] and form["grant_type"] == ["authorization_code"]
