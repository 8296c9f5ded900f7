"""The Bluesky adapter against the documented XRPC shapes (the real PDS: test_bluesky_pds.py)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import regex
from network_fakes import Handler, recording

from plugins.networks import get_network_registry
from plugins.networks.base import Account, AuthExpired, Media, OutgoingPost, Rejected, RetryLater
from plugins.networks.bluesky import BlueskyAdapter, record_key

SERVICE = "https://pds.example"
DID = "did:plc:tamtam"


def make(handler: Handler) -> tuple[BlueskyAdapter, list[httpx.Request]]:
    client, seen = recording(handler)
    return BlueskyAdapter(http=client), seen


def account(**credentials) -> Account:
    return Account(
        id="b1",
        handle="tamtam.bsky.social",
        credentials=credentials or {"accessJwt": "acc", "refreshJwt": "ref", "did": DID},
        settings={"service": SERVICE},
    )


def nsid(request: httpx.Request) -> str:
    return request.url.path.removeprefix("/xrpc/")


def created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    uri = f"at://{DID}/app.bsky.feed.post/{body['rkey']}"
    return httpx.Response(200, json={"uri": uri, "cid": "cid-" + body["rkey"]})


def test_record_keys_are_valid_tids_derived_from_the_idempotency_key():
    tid = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
    assert record_key("k-1") == record_key("k-1")
    assert record_key("k-1") != record_key("k-2")
    assert all(tid.match(record_key(f"key-{i}")) for i in range(200))


def test_publish_creates_a_post_record_with_facets_and_derived_rkey():
    def handler(request: httpx.Request) -> httpx.Response:
        if nsid(request) == "com.atproto.identity.resolveHandle":
            return httpx.Response(200, json={"did": "did:plc:alice"})
        return created(request)

    adapter, seen = make(handler)
    text = "Été 🌞 avec @alice.test sur exemple.fr/page #Fête"
    result = adapter.publish(
        OutgoingPost(text=text, idempotency_key="k-1", language="fr"), account()
    )

    create = seen[-1]
    assert create.method == "POST" and nsid(create) == "com.atproto.repo.createRecord"
    assert create.headers["Authorization"] == "Bearer acc"
    body = json.loads(create.content)
    assert body["repo"] == DID and body["collection"] == "app.bsky.feed.post"
    assert body["rkey"] == record_key("k-1")
    record = body["record"]
    assert record["$type"] == "app.bsky.feed.post" and record["text"] == text
    assert record["langs"] == ["fr"] and record["createdAt"].endswith("Z")
    raw = text.encode()
    spans = {
        f["features"][0]["$type"]: raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode()
        for f in record["facets"]
    }
    assert spans == {
        "app.bsky.richtext.facet#mention": "@alice.test",
        "app.bsky.richtext.facet#link": "exemple.fr/page",
        "app.bsky.richtext.facet#tag": "#Fête",
    }
    assert seen[0].url.params["handle"] == "alice.test"
    assert result.external_id == f"at://{DID}/app.bsky.feed.post/{record_key('k-1')}"
    assert result.url == f"https://bsky.app/profile/tamtam.bsky.social/post/{record_key('k-1')}"


def test_logs_in_with_the_app_password_once_and_reuses_the_session():
    def handler(request: httpx.Request) -> httpx.Response:
        if nsid(request) == "com.atproto.server.createSession":
            return httpx.Response(
                200,
                json={
                    "accessJwt": "a1",
                    "refreshJwt": "r1",
                    "did": DID,
                    "handle": "tamtam.bsky.social",
                },
            )
        return created(request)

    adapter, seen = make(handler)
    acct = account(identifier="tamtam.bsky.social", password="app-pass")
    adapter.publish(OutgoingPost(text="un", idempotency_key="1"), acct)
    adapter.publish(OutgoingPost(text="deux", idempotency_key="2"), acct)

    assert [nsid(r) for r in seen].count("com.atproto.server.createSession") == 1
    assert json.loads(seen[0].content) == {
        "identifier": "tamtam.bsky.social",
        "password": "app-pass",
    }
    assert seen[-1].headers["Authorization"] == "Bearer a1"


def test_expired_token_is_refreshed_once_then_the_call_is_repeated():
    calls = {"create": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if nsid(request) == "com.atproto.server.refreshSession":
            assert request.headers["Authorization"] == "Bearer ref"
            return httpx.Response(200, json={"accessJwt": "acc2", "refreshJwt": "ref2", "did": DID})
        calls["create"] += 1
        if request.headers["Authorization"] == "Bearer acc":
            return httpx.Response(
                400, json={"error": "ExpiredToken", "message": "Token has expired"}
            )
        return created(request)

    adapter, seen = make(handler)
    acct = account()
    result = adapter.publish(OutgoingPost(text="x", idempotency_key="k"), acct)

    assert calls["create"] == 2
    assert result.external_id.endswith(record_key("k"))
    assert acct.credentials["accessJwt"] == "acc2" and acct.credentials["refreshJwt"] == "ref2"


def test_still_expired_after_refresh_is_auth_expired():
    def handler(request: httpx.Request) -> httpx.Response:
        if nsid(request) == "com.atproto.server.refreshSession":
            return httpx.Response(200, json={"accessJwt": "acc2", "refreshJwt": "ref2", "did": DID})
        return httpx.Response(400, json={"error": "ExpiredToken", "message": "expired"})

    adapter, seen = make(handler)
    with pytest.raises(AuthExpired):
        adapter.publish(OutgoingPost(text="x", idempotency_key="k"), account())
    assert [nsid(r) for r in seen].count("com.atproto.server.refreshSession") == 1


def test_expired_refresh_token_without_password_is_auth_expired():
    adapter, _ = make(lambda r: httpx.Response(400, json={"error": "ExpiredToken", "message": "x"}))
    with pytest.raises(AuthExpired, match="no app password"):
        adapter.refresh(account())


def test_image_is_uploaded_as_a_blob_and_embedded_with_alt():
    blob = {"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "image/jpeg", "size": 4}

    def handler(request: httpx.Request) -> httpx.Response:
        if nsid(request) == "com.atproto.repo.uploadBlob":
            return httpx.Response(200, json={"blob": blob})
        return created(request)

    adapter, seen = make(handler)
    media = Media(
        mime_type="image/jpeg",
        alt_text="Le port au matin",
        content=b"\xff\xd8\xff\xe0",
        width=1200,
        height=800,
    )
    adapter.publish(OutgoingPost(text="Photo", media=(media,), idempotency_key="i"), account())

    upload = seen[0]
    assert upload.headers["Content-Type"] == "image/jpeg" and upload.content == b"\xff\xd8\xff\xe0"
    embed = json.loads(seen[1].content)["record"]["embed"]
    assert embed == {
        "$type": "app.bsky.embed.images",
        "images": [
            {
                "image": blob,
                "alt": "Le port au matin",
                "aspectRatio": {"width": 1200, "height": 800},
            }
        ],
    }


def test_reply_takes_root_from_the_parent_record_and_threads_chain():
    parent_uri = "at://did:plc:bob/app.bsky.feed.post/3kparent"

    def handler(request: httpx.Request) -> httpx.Response:
        if nsid(request) == "com.atproto.repo.getRecord":
            assert request.url.params["repo"] == "did:plc:bob"
            assert request.url.params["rkey"] == "3kparent"
            return httpx.Response(
                200,
                json={
                    "uri": parent_uri,
                    "cid": "cidP",
                    "value": {
                        "reply": {
                            "root": {
                                "uri": "at://did:plc:bob/app.bsky.feed.post/3kroot",
                                "cid": "cidR",
                            }
                        }
                    },
                },
            )
        return created(request)

    adapter, seen = make(handler)
    result = adapter.publish(
        OutgoingPost(text="a", thread=("b",), reply_to=parent_uri, idempotency_key="r"), account()
    )

    first, second = (json.loads(r.content)["record"]["reply"] for r in seen[1:])
    assert first == {
        "root": {"uri": "at://did:plc:bob/app.bsky.feed.post/3kroot", "cid": "cidR"},
        "parent": {"uri": parent_uri, "cid": "cidP"},
    }
    assert second["root"] == first["root"]
    assert second["parent"] == {"uri": result.part_ids[0], "cid": "cid-" + record_key("r")}
    assert json.loads(seen[2].content)["rkey"] == record_key("r#1")


def test_a_repeated_create_returns_the_existing_record():
    def handler(request: httpx.Request) -> httpx.Response:
        if nsid(request) == "com.atproto.repo.createRecord":
            return httpx.Response(500, json={"error": "InternalServerError"})
        return httpx.Response(200, json={"uri": f"at://{DID}/app.bsky.feed.post/x", "cid": "c"})

    adapter, _ = make(handler)
    result = adapter.publish(OutgoingPost(text="x", idempotency_key="k"), account())
    assert result.external_id == f"at://{DID}/app.bsky.feed.post/x"


def test_find_published_reads_the_record_by_derived_rkey():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["rkey"] == record_key("there"):
            return httpx.Response(200, json={"uri": f"at://{DID}/app.bsky.feed.post/r", "cid": "c"})
        return httpx.Response(400, json={"error": "RecordNotFound", "message": "Could not locate"})

    adapter, _ = make(handler)
    assert adapter.find_published(OutgoingPost(text="x", idempotency_key="gone"), account()) is None
    found = adapter.find_published(OutgoingPost(text="x", idempotency_key="there"), account())
    assert found is not None and found.external_id == f"at://{DID}/app.bsky.feed.post/r"


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(429, json={"error": "RateLimitExceeded"}), RetryLater),
        (httpx.Response(502, json={"error": "UpstreamFailure"}), RetryLater),
        (httpx.Response(401, json={"error": "AuthenticationRequired"}), AuthExpired),
        (httpx.Response(400, json={"error": "InvalidToken", "message": "Bad token"}), AuthExpired),
        (
            httpx.Response(
                400,
                json={
                    "error": "InvalidRequest",
                    "message": "grapheme too big (maximum 300, got 301)",
                },
            ),
            Rejected,
        ),
        (httpx.Response(413, json={"error": "PayloadTooLarge"}), Rejected),
    ],
)
def test_errors_are_translated(response, kind):
    adapter, _ = make(lambda r: response)
    with pytest.raises(kind):
        adapter.publish(OutgoingPost(text="x"), account())


def test_429_waits_until_the_ratelimit_reset():
    reset = str(int(time.time()) + 90)
    adapter, _ = make(
        lambda r: httpx.Response(
            429, json={"error": "RateLimitExceeded"}, headers={"RateLimit-Reset": reset}
        )
    )
    with pytest.raises(RetryLater) as caught:
        adapter.publish(OutgoingPost(text="x"), account())
    assert 80 <= caught.value.after <= 90


def test_timeout_is_retry_later():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    adapter, _ = make(handler)
    with pytest.raises(RetryLater):
        adapter.publish(OutgoingPost(text="x"), account())


def test_validate_checks_graphemes_bytes_and_real_image_type():
    adapter = get_network_registry(load_entrypoints=False).create("bluesky")
    assert adapter.validate(OutgoingPost(text="é" * 300)) == []
    assert adapter.validate(OutgoingPost(text="👩🏽\u200d💻" * 200)) == []  # 3000 bytes
    bytes_only = adapter.validate(OutgoingPost(text="👩🏽\u200d💻" * 201))  # 201 graphemes
    assert [(p.code, p.message) for p in bytes_only] == [
        ("too_long", "Bluesky: 3015 of 3000 bytes (UTF-8)")
    ]
    problems = adapter.validate(OutgoingPost(text="👩🏽\u200d💻" * 301))
    assert [p.code for p in problems] == ["too_long", "too_long"]  # 301 graphemes, 4515 bytes
    assert "4515 of 3000 bytes" in problems[1].message
    fake = Media(mime_type="image/png", content=b"GIF89a....")
    assert [p.code for p in adapter.validate(OutgoingPost(text="x", media=(fake,)))] == [
        "media_type"
    ]


def test_fetch_mentions_stops_at_the_cursor():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params.get_list("reasons") == ["mention", "reply", "quote"]
        return httpx.Response(
            200,
            json={
                "cursor": "c2",
                "notifications": [
                    {
                        "uri": "at://did:plc:bob/app.bsky.feed.post/3kb",
                        "reason": "reply",
                        "indexedAt": "2026-05-02T10:00:00.000Z",
                        "author": {"handle": "bob.test"},
                        "record": {
                            "text": "Merci !",
                            "createdAt": "2026-05-02T09:59:59.000Z",
                            "reply": {"parent": {"uri": "at://me/app.bsky.feed.post/1"}},
                        },
                    },
                    {
                        "uri": "at://did:plc:eve/app.bsky.feed.post/3ke",
                        "reason": "like",
                        "indexedAt": "2026-05-02T09:00:00.000Z",
                        "author": {"handle": "eve.test"},
                        "record": {},
                    },
                    {
                        "uri": "at://old",
                        "reason": "mention",
                        "indexedAt": "2026-05-01T00:00:00.000Z",
                        "author": {"handle": "old.test"},
                        "record": {"text": "old"},
                    },
                ],
            },
        )

    adapter, seen = make(handler)
    page = adapter.fetch_mentions(account(), "2026-05-01T12:00:00.000Z")
    assert [(m.author, m.text, m.in_reply_to) for m in page.mentions] == [
        ("bob.test", "Merci !", "at://me/app.bsky.feed.post/1")
    ]
    assert page.cursor == "2026-05-02T10:00:00.000Z"
    assert len(seen) == 1


def test_fetch_metrics_reads_get_posts_counts():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params.get_list("uris") == ["at://a/app.bsky.feed.post/1"]
        return httpx.Response(
            200,
            json={
                "posts": [
                    {
                        "uri": "at://a/app.bsky.feed.post/1",
                        "likeCount": 4,
                        "repostCount": 3,
                        "replyCount": 2,
                        "quoteCount": 1,
                    }
                ]
            },
        )

    adapter, _ = make(handler)
    (metrics,) = adapter.fetch_metrics(account(), ["at://a/app.bsky.feed.post/1"])
    assert (metrics.likes, metrics.reposts, metrics.replies, metrics.quotes) == (4, 3, 2, 1)
    assert metrics.impressions is None
