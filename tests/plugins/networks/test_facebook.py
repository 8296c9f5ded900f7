"""Facebook Pages adapter against the documented Graph API shapes and error envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from network_fakes import Routes, form, multipart

from plugins.networks.base import (
    REFRESH,
    THREADS,
    Account,
    AuthExpired,
    Media,
    OutgoingPost,
    Rejected,
    RetryLater,
    Unsupported,
)
from plugins.networks.facebook import FacebookAdapter

TOKEN = "page-secret-token"
PAGE = "1001"
BASE = "/v25.0"


class FakeGraph(Routes):
    def adapter(self) -> FacebookAdapter:
        return FacebookAdapter(http=self.client())


def graph_error(status: int, code: int, message: str, **extra: object) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"message": message, "type": "OAuthException", "code": code, **extra}},
    )


ACCOUNT = Account(
    id="a", handle="Ma Page", credentials={"access_token": TOKEN}, settings={"page_id": PAGE}
)


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph()


def test_text_post_goes_to_the_page_feed(graph: FakeGraph) -> None:
    graph.on("POST", f"{BASE}/{PAGE}/feed", httpx.Response(200, json={"id": "1001_55"}))

    result = graph.adapter().publish(OutgoingPost("Bonjour 👋"), ACCOUNT)

    assert graph.requests[0].url.host == "graph.facebook.com"
    assert form(graph.requests[0]) == {"message": "Bonjour 👋", "access_token": TOKEN}
    assert result.external_id == "1001_55"
    assert result.url == "https://www.facebook.com/1001_55"


def test_one_photo_by_url_uses_photos_with_caption_and_alt_text(graph: FakeGraph) -> None:
    graph.on(
        "POST", f"{BASE}/{PAGE}/photos", httpx.Response(200, json={"id": "9", "post_id": "1001_9"})
    )
    photo = Media("image/jpeg", alt_text="Un chat", url="https://cdn.example/cat.jpg")

    result = graph.adapter().publish(OutgoingPost("Le chat", media=(photo,)), ACCOUNT)

    assert form(graph.requests[0]) == {
        "caption": "Le chat",
        "alt_text_custom": "Un chat",
        "url": "https://cdn.example/cat.jpg",
        "access_token": TOKEN,
    }
    assert result.external_id == "1001_9"


def test_one_photo_by_bytes_is_a_multipart_source(graph: FakeGraph) -> None:
    graph.on(
        "POST", f"{BASE}/{PAGE}/photos", httpx.Response(200, json={"id": "9", "post_id": "1001_9"})
    )
    photo = Media("image/png", content=b"\x89PNG-bytes")

    graph.adapter().publish(OutgoingPost("Légende", media=(photo,)), ACCOUNT)

    parts = multipart(graph.requests[0])
    assert parts["source"] == b"\x89PNG-bytes"
    assert parts["caption"] == "Légende"
    assert parts["access_token"] == TOKEN


def test_several_photos_are_uploaded_unpublished_then_attached_to_one_post(
    graph: FakeGraph,
) -> None:
    graph.on(
        "POST",
        f"{BASE}/{PAGE}/photos",
        httpx.Response(200, json={"id": "p1"}),
        httpx.Response(200, json={"id": "p2"}),
    )
    graph.on("POST", f"{BASE}/{PAGE}/feed", httpx.Response(200, json={"id": "1001_77"}))
    photos = tuple(Media("image/jpeg", url=f"https://cdn.example/{n}.jpg") for n in (1, 2))

    result = graph.adapter().publish(OutgoingPost("Album", media=photos), ACCOUNT)

    first, second, feed = graph.requests
    assert form(first)["published"] == "false"
    assert form(second)["url"] == "https://cdn.example/2.jpg"
    body = form(feed)
    assert body["message"] == "Album"
    assert json.loads(body["attached_media[0]"]) == {"media_fbid": "p1"}
    assert json.loads(body["attached_media[1]"]) == {"media_fbid": "p2"}
    assert result.external_id == "1001_77"


def test_reply_is_a_comment_on_the_object(graph: FakeGraph) -> None:
    graph.on("POST", f"{BASE}/1001_55/comments", httpx.Response(200, json={"id": "55_888"}))

    result = graph.adapter().publish(OutgoingPost("Merci !", reply_to="1001_55"), ACCOUNT)

    assert form(graph.requests[0]) == {"message": "Merci !", "access_token": TOKEN}
    assert result.external_id == "55_888"


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (
            graph_error(
                400, 190, "Error validating access token: Session has expired", error_subcode=463
            ),
            AuthExpired,
        ),
        (graph_error(400, 506, "Duplicate status message"), Rejected),
        (graph_error(400, 368, "The action attempted has been deemed abusive"), Rejected),
        (graph_error(403, 200, "Permissions error"), Rejected),
        (graph_error(400, 4, "Application request limit reached"), RetryLater),
        (graph_error(400, 17, "User request limit reached"), RetryLater),
        (graph_error(400, 32, "Page request limit reached"), RetryLater),
        (graph_error(400, 613, "Calls to this api have exceeded the rate limit."), RetryLater),
        (graph_error(500, 2, "Service temporarily unavailable", is_transient=True), RetryLater),
        (httpx.Response(502, text="Bad Gateway"), RetryLater),
    ],
)
def test_graph_errors_are_translated(
    graph: FakeGraph, response: httpx.Response, kind: type
) -> None:
    graph.on("POST", f"{BASE}/{PAGE}/feed", response)
    with pytest.raises(kind) as caught:
        graph.adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert TOKEN not in str(caught.value)
    if kind is Rejected:
        assert response.json()["error"]["message"] in caught.value.reason


def test_business_use_case_throttle_waits_the_announced_time(graph: FakeGraph) -> None:
    usage = {PAGE: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    graph.on(
        "POST",
        f"{BASE}/{PAGE}/feed",
        httpx.Response(
            400,
            headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
            json={"error": {"message": "User request limit reached", "code": 80001}},
        ),
    )
    with pytest.raises(RetryLater) as caught:
        graph.adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert caught.value.after == 420


def test_timeout_retries_later() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    adapter = FacebookAdapter(http=httpx.Client(transport=httpx.MockTransport(timeout)))
    with pytest.raises(RetryLater) as caught:
        adapter.publish(OutgoingPost("x"), ACCOUNT)
    assert TOKEN not in caught.value.reason


def test_mentions_are_new_comments_from_others_with_a_cursor(graph: FakeGraph) -> None:
    feed = {
        "data": [
            {
                "id": "1001_55",
                "comments": {
                    "data": [
                        {
                            "id": "c3",
                            "message": "Et ça ?",
                            "created_time": "2026-05-04T10:00:02+0000",
                            "from": {"id": "u2", "name": "Zoé"},
                            "parent": {"id": "c1"},
                        },
                        {
                            "id": "c2",
                            "message": "Merci",
                            "created_time": "2026-05-04T10:00:01+0000",
                            "from": {"id": PAGE, "name": "Ma Page"},
                        },
                        {
                            "id": "c1",
                            "message": "Super",
                            "created_time": "2026-05-04T10:00:00+0000",
                            "from": {"id": "u1", "name": "Léa"},
                            "permalink_url": "https://fb/c1",
                        },
                    ]
                },
            }
        ]
    }
    graph.on("GET", f"{BASE}/{PAGE}/feed", httpx.Response(200, json=feed))
    adapter = graph.adapter()

    page = adapter.fetch_mentions(ACCOUNT, None)

    params = graph.requests[0].url.params
    assert params["access_token"] == TOKEN
    assert "comments" in params["fields"] and "from{id,name}" in params["fields"]
    assert [m.external_id for m in page.mentions] == ["c1", "c3"]
    first, second = page.mentions
    assert (first.author, first.text, first.in_reply_to, first.url) == (
        "Léa",
        "Super",
        "1001_55",
        "https://fb/c1",
    )
    assert first.created_at == datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    assert second.in_reply_to == "c1"

    again = adapter.fetch_mentions(ACCOUNT, page.cursor)
    assert again.mentions == ()
    assert again.cursor == page.cursor


def test_a_comment_in_the_same_second_as_the_cursor_is_not_lost(graph: FakeGraph) -> None:
    def comment(cid: str) -> dict[str, object]:
        return {
            "id": cid,
            "message": cid,
            "created_time": "2026-05-04T10:00:00+0000",
            "from": {"id": "u", "name": "U"},
        }

    graph.on(
        "GET",
        f"{BASE}/{PAGE}/feed",
        httpx.Response(200, json={"data": [{"id": "p", "comments": {"data": [comment("a")]}}]}),
        httpx.Response(
            200, json={"data": [{"id": "p", "comments": {"data": [comment("b"), comment("a")]}}]}
        ),
    )
    adapter = graph.adapter()
    first = adapter.fetch_mentions(ACCOUNT, None)
    second = adapter.fetch_mentions(ACCOUNT, first.cursor)
    assert [m.external_id for m in first.mentions] == ["a"]
    assert [m.external_id for m in second.mentions] == ["b"]


def test_metrics_read_reactions_comments_and_shares_in_one_call(graph: FakeGraph) -> None:
    graph.on(
        "GET",
        f"{BASE}/",
        httpx.Response(
            200,
            json={
                "1001_1": {
                    "id": "1001_1",
                    "reactions": {"data": [], "summary": {"total_count": 12}},
                    "comments": {"data": [], "summary": {"total_count": 3}},
                    "shares": {"count": 2},
                },
                "1001_2": {"id": "1001_2", "reactions": {"summary": {"total_count": 0}}},
            },
        ),
    )

    metrics = graph.adapter().fetch_metrics(ACCOUNT, ["1001_1", "1001_2"])

    assert graph.requests[0].url.params["ids"] == "1001_1,1001_2"
    assert [(m.external_id, m.likes, m.replies, m.reposts) for m in metrics] == [
        ("1001_1", 12, 3, 2),
        ("1001_2", 0, 0, 0),
    ]
    assert metrics[0].impressions is None


def test_find_published_matches_the_text_on_the_page_feed(graph: FakeGraph) -> None:
    graph.on(
        "GET",
        f"{BASE}/{PAGE}/feed",
        httpx.Response(
            200,
            json={
                "data": [
                    {"id": "1001_8", "message": "autre"},
                    {"id": "1001_9", "message": "le mien"},
                ]
            },
        ),
    )
    adapter = graph.adapter()
    assert adapter.find_published(OutgoingPost("le mien"), ACCOUNT).external_id == "1001_9"
    assert adapter.find_published(OutgoingPost("absent"), ACCOUNT) is None


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("👍🏽", 4),
        ("👨\u200d👩\u200d👧", 8),
        ("e\u0301", 2),
        ("日本語", 3),
        ("« Ça déménage ! »", 17),
        ("https://example.com/x", 21),
    ],
)
def test_counting_in_utf16_code_units(text: str, length: int) -> None:
    assert FacebookAdapter(http=httpx.Client()).count(text) == length


def test_limit_is_63206() -> None:
    adapter = FacebookAdapter(http=httpx.Client())
    assert adapter.validate(OutgoingPost("a" * 63206)) == []
    assert [p.code for p in adapter.validate(OutgoingPost("a" * 63205 + "😀"))] == ["too_long"]


def test_absent_capabilities_raise_unsupported() -> None:
    adapter = FacebookAdapter(http=httpx.Client())
    assert not adapter.supports(THREADS) and not adapter.supports(REFRESH)
    with pytest.raises(Unsupported):
        adapter.refresh(ACCOUNT)
    assert [p.code for p in adapter.validate(OutgoingPost("a", thread=("b",)))] == ["no_threads"]
