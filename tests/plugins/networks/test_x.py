"""The X adapter against the documented API v2 request and response shapes."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from network_fakes import Handler, recording

from plugins.networks import get_network_registry
from plugins.networks.base import (
    IDEMPOTENCY,
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
from plugins.networks.x import XAdapter


def make(handler: Handler) -> tuple[XAdapter, list[httpx.Request]]:
    client, seen = recording(handler)
    return XAdapter(http=client), seen


def account(**settings) -> Account:
    return Account(
        id="x1",
        handle="@tamtam",
        credentials={"access_token": "at", "refresh_token": "rt"},
        settings={"client_id": "cid", **settings},
    )


def tweet(tweet_id: str) -> httpx.Response:
    return httpx.Response(201, json={"data": {"id": tweet_id, "text": "..."}})


def test_declares_no_lookup_nor_idempotency():
    adapter = get_network_registry(load_entrypoints=False).create("x")
    assert isinstance(adapter, XAdapter)
    assert not adapter.supports(LOOKUP) and not adapter.supports(IDEMPOTENCY)
    assert adapter.supports(REFRESH)
    with pytest.raises(Unsupported, match="X does not offer lookup"):
        adapter.find_published(OutgoingPost(text="x"), account())


def test_validate_counts_urls_as_23_and_emoji_as_2():
    adapter = XAdapter()
    fits = "é" * 256 + " https://exemple.fr/" + "a" * 300  # 256 + 1 + 23 = 280
    assert adapter.validate(OutgoingPost(text=fits)) == []
    problems = adapter.validate(OutgoingPost(text=fits + "👍🏽"))
    assert [(p.code, p.message) for p in problems] == [
        (
            "too_long",
            "X: 282 of 280 characters, counted with links as 23, emoji and CJK characters as 2",
        )
    ]


def test_publish_text_posts_json_with_bearer():
    adapter, seen = make(lambda r: tweet("1001"))
    result = adapter.publish(OutgoingPost(text="Bonjour 👋"), account())
    request = seen[0]
    assert (request.method, str(request.url)) == ("POST", "https://api.x.com/2/tweets")
    assert request.headers["Authorization"] == "Bearer at"
    assert json.loads(request.content) == {"text": "Bonjour 👋"}
    assert result.external_id == "1001"
    assert result.url == "https://x.com/tamtam/status/1001"


def test_thread_is_chained_replies():
    ids = iter(["1", "2", "3"])
    adapter, seen = make(lambda r: tweet(next(ids)))
    result = adapter.publish(OutgoingPost(text="a", thread=("b", "c"), reply_to="900"), account())
    replies = [json.loads(r.content)["reply"]["in_reply_to_tweet_id"] for r in seen]
    assert replies == ["900", "1", "2"]
    assert result.part_ids == ("1", "2", "3")


def test_image_upload_sets_alt_text_then_attaches_the_media_id():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/2/media/upload":
            return httpx.Response(200, json={"data": {"id": "m77", "media_key": "3_m77"}})
        if request.url.path == "/2/media/metadata":
            return httpx.Response(200, json={"data": {"id": "m77"}})
        return tweet("5")

    adapter, seen = make(handler)
    media = Media(mime_type="image/png", alt_text="Un graphique", content=b"\x89PNGdata")
    adapter.publish(OutgoingPost(text="Chiffres", media=(media,)), account())

    upload, metadata, create = seen
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="media_category"' in upload.content and b"tweet_image" in upload.content
    assert b"\x89PNGdata" in upload.content
    assert json.loads(metadata.content) == {
        "id": "m77",
        "metadata": {"alt_text": {"text": "Un graphique"}},
    }
    assert json.loads(create.content)["media"] == {"media_ids": ["m77"]}


def test_429_waits_until_the_rate_limit_reset():
    reset = str(int(time.time()) + 300)
    adapter, _ = make(
        lambda r: httpx.Response(
            429,
            json={"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429},
            headers={"x-rate-limit-reset": reset},
        )
    )
    with pytest.raises(RetryLater) as caught:
        adapter.publish(OutgoingPost(text="x"), account())
    assert 290 <= caught.value.after <= 300


@pytest.mark.parametrize(
    ("response", "kind", "reason"),
    [
        (httpx.Response(503, json={"title": "Service Unavailable"}), RetryLater, "Unavailable"),
        (
            httpx.Response(401, json={"title": "Unauthorized", "detail": "Unauthorized"}),
            AuthExpired,
            "Unauthorized",
        ),
        (
            httpx.Response(
                403,
                json={"detail": "You are not allowed to create a Tweet with duplicate content."},
            ),
            Rejected,
            "duplicate",
        ),
        (
            httpx.Response(400, json={"errors": [{"message": "text is too long"}]}),
            Rejected,
            "too long",
        ),
    ],
)
def test_errors_are_translated(response, kind, reason):
    adapter, _ = make(lambda r: response)
    with pytest.raises(kind, match=reason):
        adapter.publish(OutgoingPost(text="x"), account())


def test_timeout_is_retry_later():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    adapter, _ = make(handler)
    with pytest.raises(RetryLater):
        adapter.publish(OutgoingPost(text="x"), account())


def test_fetch_mentions_follows_pages_since_the_cursor():
    pages = {
        None: {
            "data": [
                {
                    "id": "30",
                    "text": "@tamtam top",
                    "author_id": "u1",
                    "created_at": "2026-05-01T10:00:00.000Z",
                    "referenced_tweets": [{"type": "replied_to", "id": "20"}],
                }
            ],
            "includes": {"users": [{"id": "u1", "username": "bob"}]},
            "meta": {"newest_id": "30", "next_token": "p2"},
        },
        "p2": {
            "data": [
                {
                    "id": "25",
                    "text": "@tamtam hi",
                    "author_id": "u2",
                    "created_at": "2026-05-01T09:00:00.000Z",
                }
            ],
            "includes": {"users": [{"id": "u2", "username": "eve"}]},
            "meta": {"newest_id": "25"},
        },
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/2/users/42/mentions"
        assert request.url.params["since_id"] == "10"
        return httpx.Response(200, json=pages[request.url.params.get("pagination_token")])

    adapter, seen = make(handler)
    page = adapter.fetch_mentions(account(user_id="42"), "10")
    assert [(m.external_id, m.author, m.in_reply_to) for m in page.mentions] == [
        ("30", "bob", "20"),
        ("25", "eve", None),
    ]
    assert page.cursor == "30"
    assert len(seen) == 2


def test_fetch_mentions_looks_up_the_user_id_and_keeps_cursor_when_empty():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/2/users/me":
            return httpx.Response(200, json={"data": {"id": "42", "username": "tamtam"}})
        return httpx.Response(200, json={"meta": {"result_count": 0}})

    adapter, seen = make(handler)
    acct = account()
    assert adapter.fetch_mentions(acct, "10").cursor == "10"
    assert acct.settings["user_id"] == "42"
    assert seen[1].url.path == "/2/users/42/mentions"


def test_fetch_metrics_reads_public_metrics_with_impressions():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["ids"] == "1,2"
        assert request.url.params["tweet.fields"] == "public_metrics"
        return httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "1",
                        "public_metrics": {
                            "retweet_count": 2,
                            "reply_count": 3,
                            "like_count": 4,
                            "quote_count": 1,
                            "bookmark_count": 0,
                            "impression_count": 900,
                        },
                    }
                ]
            },
        )

    adapter, _ = make(handler)
    (metrics,) = adapter.fetch_metrics(account(), ["1", "2"])
    assert (
        metrics.likes,
        metrics.reposts,
        metrics.replies,
        metrics.quotes,
        metrics.impressions,
    ) == (4, 2, 3, 1, 900)


def test_refresh_uses_the_refresh_token_grant():
    adapter, seen = make(
        lambda r: httpx.Response(
            200,
            json={
                "token_type": "bearer",
                "access_token": "at2",
                "refresh_token": "rt2",
                "expires_in": 7200,
            },
        )
    )
    fresh = adapter.refresh(account())
    form = parse_qs(seen[0].content.decode())
    assert str(seen[0].url) == "https://api.x.com/2/oauth2/token"
    assert form == {"grant_type": ["refresh_token"], "refresh_token": ["rt"], "client_id": ["cid"]}
    assert fresh["access_token"] == "at2" and fresh["refresh_token"] == "rt2"
    assert fresh["expires_at"] > time.time() + 7000


def test_refresh_of_a_confidential_client_uses_basic_auth():
    adapter, seen = make(lambda r: httpx.Response(200, json={"access_token": "at2"}))
    acct = account()
    acct.credentials["client_secret"] = "sec"
    adapter.refresh(acct)
    assert seen[0].headers["Authorization"] == "Basic " + base64.b64encode(b"cid:sec").decode()


def test_refresh_without_refresh_token_or_with_a_spent_one_is_auth_expired():
    adapter, _ = make(
        lambda r: httpx.Response(
            400,
            json={
                "error": "invalid_request",
                "error_description": "Value passed for the token was invalid.",
            },
        )
    )
    with pytest.raises(AuthExpired, match="was invalid"):
        adapter.refresh(account())
    with pytest.raises(AuthExpired, match="no refresh token"):
        adapter.refresh(
            Account(
                id="n", handle="n", credentials={"access_token": "a"}, settings={"client_id": "cid"}
            )
        )


def test_authorization_url_uses_pkce_s256():
    adapter, seen = make(
        lambda r: httpx.Response(200, json={"access_token": "a", "refresh_token": "r"})
    )
    url, verifier = adapter.authorization_url("cid", "https://app/cb", "st")
    query = parse_qs(urlparse(url).query)
    assert url.startswith("https://x.com/i/oauth2/authorize?")
    assert query["code_challenge_method"] == ["S256"] and "offline.access" in query["scope"][0]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]
    credentials = adapter.exchange_code("cid", "code", "https://app/cb", verifier)
    assert credentials == {"access_token": "a", "refresh_token": "r"}
    assert parse_qs(seen[0].content.decode())["code_verifier"] == [verifier]
