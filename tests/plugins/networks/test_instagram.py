"""Instagram adapter against the documented content-publishing flow and Graph errors."""

from __future__ import annotations

import httpx
import pytest
from network_fakes import Routes, form, ok

from plugins.networks.base import (
    THREADS,
    Account,
    AuthExpired,
    Media,
    OutgoingPost,
    Rejected,
    RetryLater,
)
from plugins.networks.instagram import InstagramAdapter

TOKEN = "ig-secret-token"
USER = "17841400000000000"
BASE = "/v25.0"
PHOTO = Media("image/jpeg", alt_text="Un coucher de soleil", url="https://cdn.example/sun.jpg")


class FakeGraph(Routes):
    def adapter(self, **options: object) -> InstagramAdapter:
        self.sleeps: list[float] = []
        return InstagramAdapter(
            http=self.client(),
            poll_interval=2.5,
            sleep=self.sleeps.append,
            **options,  # type: ignore[arg-type]
        )

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def account(host: str = "graph.facebook.com") -> Account:
    return Account(
        id="a",
        handle="ma.marque",
        credentials={"access_token": TOKEN},
        settings={"ig_user_id": USER, "graph_host": host},
    )


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph()


def test_single_image_creates_a_container_waits_then_publishes(graph: FakeGraph) -> None:
    graph.on("POST", f"{BASE}/{USER}/media", ok(id="c1"))
    graph.on("GET", f"{BASE}/c1", ok(status_code="IN_PROGRESS"), ok(status_code="FINISHED"))
    graph.on("POST", f"{BASE}/{USER}/media_publish", ok(id="m1"))
    graph.on("GET", f"{BASE}/m1", ok(permalink="https://www.instagram.com/p/abc/"))
    adapter = graph.adapter()

    result = adapter.publish(OutgoingPost("Soleil #été", media=(PHOTO,)), account())

    assert form(graph.requests[0]) == {
        "image_url": "https://cdn.example/sun.jpg",
        "caption": "Soleil #été",
        "alt_text": "Un coucher de soleil",
        "access_token": TOKEN,
    }
    assert graph.requests[1].url.params["fields"] == "status_code,status"
    assert form(graph.requests[3]) == {"creation_id": "c1", "access_token": TOKEN}
    assert graph.sleeps == [2.5]  # one wait, between the two status reads
    assert result.external_id == "m1"
    assert result.url == "https://www.instagram.com/p/abc/"


def test_carousel_children_then_parent_then_one_publish(graph: FakeGraph) -> None:
    graph.on("POST", f"{BASE}/{USER}/media", ok(id="k1"), ok(id="k2"), ok(id="parent"))
    for container in ("k1", "k2", "parent"):
        graph.on("GET", f"{BASE}/{container}", ok(status_code="FINISHED"))
    graph.on("POST", f"{BASE}/{USER}/media_publish", ok(id="m9"))
    graph.on("GET", f"{BASE}/m9", ok(permalink="https://www.instagram.com/p/xyz/"))
    photos = (PHOTO, Media("image/jpeg", url="https://cdn.example/2.jpg"))

    result = graph.adapter().publish(OutgoingPost("Deux photos", media=photos), account())

    first_child, second_child = form(graph.requests[0]), form(graph.requests[1])
    assert first_child["is_carousel_item"] == "true" and "caption" not in first_child
    assert (
        second_child["image_url"] == "https://cdn.example/2.jpg" and "alt_text" not in second_child
    )
    parent = form(graph.requests[4])
    assert parent["media_type"] == "CAROUSEL"
    assert parent["children"] == "k1,k2"
    assert parent["caption"] == "Deux photos"
    assert graph.paths().count(f"POST {BASE}/{USER}/media_publish") == 1
    assert result.external_id == "m9"


def test_container_error_is_rejected_and_nothing_is_published(graph: FakeGraph) -> None:
    graph.on("POST", f"{BASE}/{USER}/media", ok(id="c1"))
    graph.on(
        "GET", f"{BASE}/c1", ok(status_code="ERROR", status="Error: 2207026 unsupported format")
    )
    with pytest.raises(Rejected, match="2207026"):
        graph.adapter().publish(OutgoingPost("x", media=(PHOTO,)), account())
    assert f"POST {BASE}/{USER}/media_publish" not in graph.paths()


def test_container_still_processing_after_the_last_poll_retries_later(graph: FakeGraph) -> None:
    graph.on("POST", f"{BASE}/{USER}/media", ok(id="c1"))
    graph.on("GET", f"{BASE}/c1", ok(status_code="IN_PROGRESS"))
    adapter = graph.adapter(max_polls=3)
    with pytest.raises(RetryLater):
        adapter.publish(OutgoingPost("x", media=(PHOTO,)), account())
    assert graph.sleeps == [2.5, 2.5]
    assert graph.paths().count(f"GET {BASE}/c1") == 3


def test_a_failed_permalink_read_does_not_fail_a_published_post(graph: FakeGraph) -> None:
    graph.on("POST", f"{BASE}/{USER}/media", ok(id="c1"))
    graph.on("GET", f"{BASE}/c1", ok(status_code="FINISHED"))
    graph.on("POST", f"{BASE}/{USER}/media_publish", ok(id="m1"))
    graph.on("GET", f"{BASE}/m1", httpx.Response(500, text="oops"))
    result = graph.adapter().publish(OutgoingPost("x", media=(PHOTO,)), account())
    assert (result.external_id, result.url) == ("m1", "")


def test_reply_to_a_comment_uses_replies(graph: FakeGraph) -> None:
    graph.on("POST", f"{BASE}/178001/replies", ok(id="r1"))
    result = graph.adapter().publish(OutgoingPost("Merci !", reply_to="178001"), account())
    assert form(graph.requests[0]) == {"message": "Merci !", "access_token": TOKEN}
    assert result.external_id == "r1"


def test_reply_to_a_media_falls_back_to_a_comment(graph: FakeGraph) -> None:
    graph.on(
        "POST",
        f"{BASE}/m1/replies",
        httpx.Response(
            400,
            json={
                "error": {"message": "Unsupported post request", "code": 100, "error_subcode": 33}
            },
        ),
    )
    graph.on("POST", f"{BASE}/m1/comments", ok(id="c7"))
    assert (
        graph.adapter().publish(OutgoingPost("Hello", reply_to="m1"), account()).external_id == "c7"
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            {"message": "Error validating access token", "code": 190, "error_subcode": 463},
            AuthExpired,
        ),
        ({"message": "Application request limit reached", "code": 4}, RetryLater),
        ({"message": "User request limit reached", "code": 17}, RetryLater),
        ({"message": "Application does not have permission", "code": 10}, Rejected),
        (
            {
                "message": "The user has reached the publishing limit",
                "code": 9,
                "error_subcode": 2207042,
            },
            RetryLater,
        ),
        (
            {"message": "Media download has failed", "code": 9004, "error_subcode": 2207052},
            Rejected,
        ),
    ],
)
def test_graph_errors_are_translated(
    graph: FakeGraph, error: dict[str, object], kind: type
) -> None:
    graph.on("POST", f"{BASE}/{USER}/media", httpx.Response(400, json={"error": error}))
    with pytest.raises(kind) as caught:
        graph.adapter().publish(OutgoingPost("x", media=(PHOTO,)), account())
    assert TOKEN not in str(caught.value)
    assert str(error["message"]) in str(caught.value)


def test_retry_after_header_is_honoured(graph: FakeGraph) -> None:
    graph.on(
        "POST",
        f"{BASE}/{USER}/media",
        httpx.Response(
            429,
            headers={"Retry-After": "90"},
            json={"error": {"message": "slow down", "code": 613}},
        ),
    )
    with pytest.raises(RetryLater) as caught:
        graph.adapter().publish(OutgoingPost("x", media=(PHOTO,)), account())
    assert caught.value.after == 90


def test_text_only_post_is_a_validation_problem_and_refused() -> None:
    adapter = InstagramAdapter(http=httpx.Client())
    codes = [p.code for p in adapter.validate(OutgoingPost("Juste du texte"))]
    assert codes == ["media_required"]
    with pytest.raises(Rejected):
        adapter.publish(OutgoingPost("Juste du texte"), account())


def test_media_must_be_a_public_jpeg_url() -> None:
    adapter = InstagramAdapter(http=httpx.Client())
    problems = adapter.validate(OutgoingPost("x", media=(Media("image/png", content=b"..."),)))
    assert sorted(p.code for p in problems) == ["media_type", "media_url_required"]


def test_more_than_30_hashtags_is_a_problem_and_counting_mentions_five() -> None:
    adapter = InstagramAdapter(http=httpx.Client())
    tags = " ".join(f"#tag{n}" for n in range(31))
    codes = [p.code for p in adapter.validate(OutgoingPost(tags, media=(PHOTO,)))]
    assert codes == ["too_many_hashtags"]
    assert adapter.validate(OutgoingPost(tags.rsplit(" ", 1)[0], media=(PHOTO,))) == []
    assert "5" in adapter.limits.counting


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("👍🏽", 4),
        ("👨\u200d👩\u200d👧", 8),
        ("e\u0301", 2),
        ("日本語", 3),
        ("« Ça déménage ! »", 17),
    ],
)
def test_caption_counting(text: str, length: int) -> None:
    assert InstagramAdapter(http=httpx.Client()).count(text) == length


def test_caption_over_2200_is_too_long() -> None:
    adapter = InstagramAdapter(http=httpx.Client())
    assert adapter.validate(OutgoingPost("a" * 2200, media=(PHOTO,))) == []
    problems = adapter.validate(OutgoingPost("a" * 2199 + "🎉", media=(PHOTO,)))
    assert [p.code for p in problems] == ["too_long"]


def test_mentions_collect_comments_and_replies_except_our_own(graph: FakeGraph) -> None:
    media = {
        "data": [
            {
                "id": "m1",
                "comments": {
                    "data": [
                        {
                            "id": "c1",
                            "text": "Trop beau",
                            "timestamp": "2026-05-04T10:00:00+0000",
                            "username": "lea",
                            "replies": {
                                "data": [
                                    {
                                        "id": "r1",
                                        "text": "Merci",
                                        "timestamp": "2026-05-04T10:05:00+0000",
                                        "username": "ma.marque",
                                        "parent_id": "c1",
                                    },
                                    {
                                        "id": "r2",
                                        "text": "Oui !",
                                        "timestamp": "2026-05-04T10:06:00+0000",
                                        "username": "zoe",
                                        "parent_id": "c1",
                                    },
                                ]
                            },
                        }
                    ]
                },
            }
        ]
    }
    graph.on("GET", f"{BASE}/{USER}/media", ok(**media))
    adapter = graph.adapter()

    page = adapter.fetch_mentions(account(), None)

    assert "replies{" in graph.requests[0].url.params["fields"]
    assert [(m.external_id, m.author, m.in_reply_to) for m in page.mentions] == [
        ("c1", "lea", "m1"),
        ("r2", "zoe", "c1"),
    ]
    assert adapter.fetch_mentions(account(), page.cursor).mentions == ()


def test_metrics_read_like_and_comment_counts(graph: FakeGraph) -> None:
    graph.on("GET", f"{BASE}/m1", ok(id="m1", like_count=40, comments_count=6))
    metrics = graph.adapter().fetch_metrics(account(), ["m1"])
    assert graph.requests[0].url.params["fields"] == "like_count,comments_count"
    assert [(m.likes, m.replies, m.impressions) for m in metrics] == [(40, 6, None)]


def test_refresh_with_instagram_login_uses_ig_refresh_token(graph: FakeGraph) -> None:
    graph.on(
        "GET",
        "/refresh_access_token",
        ok(access_token="new-token", token_type="bearer", expires_in=5183944),
    )
    refreshed = graph.adapter().refresh(account(host="graph.instagram.com"))
    request = graph.requests[0]
    assert request.url.host == "graph.instagram.com"
    assert request.url.params["grant_type"] == "ig_refresh_token"
    assert request.url.params["access_token"] == TOKEN
    assert (refreshed["access_token"], refreshed["expires_in"]) == ("new-token", 5183944)


def test_refresh_with_facebook_login_means_reconnect(graph: FakeGraph) -> None:
    with pytest.raises(AuthExpired):
        graph.adapter().refresh(account())
    assert graph.requests == []


def test_find_published_matches_the_caption(graph: FakeGraph) -> None:
    graph.on(
        "GET",
        f"{BASE}/{USER}/media",
        ok(data=[{"id": "m5", "caption": "le mien", "permalink": "p"}]),
    )
    assert (
        graph.adapter()
        .find_published(OutgoingPost("le mien", media=(PHOTO,)), account())
        .external_id
        == "m5"
    )


def test_no_threads() -> None:
    adapter = InstagramAdapter(http=httpx.Client())
    assert not adapter.supports(THREADS)
    assert "no_threads" in [
        p.code for p in adapter.validate(OutgoingPost("a", media=(PHOTO,), thread=("b",)))
    ]
