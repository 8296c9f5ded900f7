"""Threads adapter against the documented container/publish flow, replies and insights."""

from __future__ import annotations

import httpx
import pytest
from network_fakes import Routes, form, ok

from plugins.networks.base import Account, AuthExpired, Media, OutgoingPost, Rejected, RetryLater
from plugins.networks.threads import ThreadsAdapter

TOKEN = "th-secret-token"
BASE = "/v1.0"
ACCOUNT = Account(
    id="a",
    handle="ma.marque",
    credentials={"access_token": TOKEN},
    settings={"threads_user_id": "42"},
)


class FakeThreads(Routes):
    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    def adapter(self, **options: object) -> ThreadsAdapter:
        return ThreadsAdapter(
            http=self.client(),
            poll_interval=1.5,
            sleep=self.sleeps.append,
            **options,  # type: ignore[arg-type]
        )

    def posted(self, path: str) -> list[dict[str, str]]:
        return [form(r) for r in self.requests if r.method == "POST" and r.url.path == path]


@pytest.fixture
def threads() -> FakeThreads:
    return FakeThreads()


def test_text_post_is_a_text_container_then_threads_publish(threads: FakeThreads) -> None:
    threads.on("POST", f"{BASE}/42/threads", ok(id="c1"))
    threads.on("GET", f"{BASE}/c1", ok(status="FINISHED", id="c1"))
    threads.on("POST", f"{BASE}/42/threads_publish", ok(id="p1"))
    threads.on("GET", f"{BASE}/p1", ok(permalink="https://www.threads.com/@ma.marque/post/X"))

    result = threads.adapter().publish(OutgoingPost("Salut 👋"), ACCOUNT)

    assert threads.requests[0].url.host == "graph.threads.net"
    assert threads.posted(f"{BASE}/42/threads") == [
        {"media_type": "TEXT", "text": "Salut 👋", "access_token": TOKEN}
    ]
    assert threads.requests[1].url.params["fields"] == "status,error_message"
    assert threads.posted(f"{BASE}/42/threads_publish") == [
        {"creation_id": "c1", "access_token": TOKEN}
    ]
    assert (result.external_id, result.url, result.part_ids) == (
        "p1",
        "https://www.threads.com/@ma.marque/post/X",
        ("p1",),
    )


def test_thread_parts_are_chained_replies(threads: FakeThreads) -> None:
    threads.on("POST", f"{BASE}/42/threads", ok(id="c1"), ok(id="c2"), ok(id="c3"))
    for container in ("c1", "c2", "c3"):
        threads.on("GET", f"{BASE}/{container}", ok(status="FINISHED"))
    threads.on("POST", f"{BASE}/42/threads_publish", ok(id="p1"), ok(id="p2"), ok(id="p3"))
    threads.on("GET", f"{BASE}/p1", ok(permalink="https://t/p1"))

    result = threads.adapter().publish(OutgoingPost("1/3", thread=("2/3", "3/3")), ACCOUNT)

    containers = threads.posted(f"{BASE}/42/threads")
    assert [c["text"] for c in containers] == ["1/3", "2/3", "3/3"]
    assert "reply_to_id" not in containers[0]
    assert [c.get("reply_to_id") for c in containers[1:]] == ["p1", "p2"]
    assert result.part_ids == ("p1", "p2", "p3")


def test_reply_sets_reply_to_id(threads: FakeThreads) -> None:
    threads.on("POST", f"{BASE}/42/threads", ok(id="c1"))
    threads.on("GET", f"{BASE}/c1", ok(status="FINISHED"))
    threads.on("POST", f"{BASE}/42/threads_publish", ok(id="p9"))
    threads.on("GET", f"{BASE}/p9", ok(permalink=""))
    threads.adapter().publish(OutgoingPost("Merci", reply_to="1789"), ACCOUNT)
    assert threads.posted(f"{BASE}/42/threads")[0]["reply_to_id"] == "1789"


def test_image_waits_for_processing_with_the_injected_interval(threads: FakeThreads) -> None:
    threads.on("POST", f"{BASE}/42/threads", ok(id="c1"))
    threads.on(
        "GET",
        f"{BASE}/c1",
        ok(status="IN_PROGRESS"),
        ok(status="IN_PROGRESS"),
        ok(status="FINISHED"),
    )
    threads.on("POST", f"{BASE}/42/threads_publish", ok(id="p1"))
    threads.on("GET", f"{BASE}/p1", ok(permalink=""))
    photo = Media("image/jpeg", alt_text="Alt", url="https://cdn.example/a.jpg")

    threads.adapter().publish(OutgoingPost("Photo", media=(photo,)), ACCOUNT)

    assert threads.posted(f"{BASE}/42/threads")[0] == {
        "media_type": "IMAGE",
        "image_url": "https://cdn.example/a.jpg",
        "alt_text": "Alt",
        "text": "Photo",
        "access_token": TOKEN,
    }
    assert threads.sleeps == [1.5, 1.5]


def test_carousel_children_then_carousel_container(threads: FakeThreads) -> None:
    threads.on("POST", f"{BASE}/42/threads", ok(id="k1"), ok(id="k2"), ok(id="car"))
    for container in ("k1", "k2", "car"):
        threads.on("GET", f"{BASE}/{container}", ok(status="FINISHED"))
    threads.on("POST", f"{BASE}/42/threads_publish", ok(id="p1"))
    threads.on("GET", f"{BASE}/p1", ok(permalink=""))
    photos = tuple(Media("image/jpeg", url=f"https://cdn.example/{n}.jpg") for n in (1, 2))

    threads.adapter().publish(OutgoingPost("Album", media=photos), ACCOUNT)

    children, *_, parent = threads.posted(f"{BASE}/42/threads")
    assert children["is_carousel_item"] == "true"
    assert parent == {
        "media_type": "CAROUSEL",
        "children": "k1,k2",
        "text": "Album",
        "access_token": TOKEN,
    }


def test_container_error_is_rejected_with_its_message(threads: FakeThreads) -> None:
    threads.on("POST", f"{BASE}/42/threads", ok(id="c1"))
    threads.on("GET", f"{BASE}/c1", ok(status="ERROR", error_message="FAILED_DOWNLOADING_VIDEO"))
    with pytest.raises(Rejected, match="FAILED_DOWNLOADING_VIDEO"):
        threads.adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert threads.posted(f"{BASE}/42/threads_publish") == []


def test_still_processing_after_the_last_poll_retries_later(threads: FakeThreads) -> None:
    threads.on("POST", f"{BASE}/42/threads", ok(id="c1"))
    threads.on("GET", f"{BASE}/c1", ok(status="IN_PROGRESS"))
    with pytest.raises(RetryLater):
        threads.adapter(max_polls=2).publish(OutgoingPost("x"), ACCOUNT)
    assert threads.sleeps == [1.5]


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, {"message": "Error validating access token", "code": 190}, AuthExpired),
        (400, {"message": "Application request limit reached", "code": 4}, RetryLater),
        (
            400,
            {"message": "Calls to this api have exceeded the rate limit.", "code": 613},
            RetryLater,
        ),
        (
            400,
            {"message": "Param text must be at most 500 characters long.", "code": 100},
            Rejected,
        ),
        (500, {"message": "An unknown error has occurred.", "code": 1}, RetryLater),
    ],
)
def test_errors_are_translated(
    threads: FakeThreads, status: int, error: dict[str, object], kind: type
) -> None:
    threads.on("POST", f"{BASE}/42/threads", httpx.Response(status, json={"error": error}))
    with pytest.raises(kind) as caught:
        threads.adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert TOKEN not in str(caught.value)


def test_mentions_are_conversation_replies_from_others(threads: FakeThreads) -> None:
    threads.on("GET", f"{BASE}/42/threads", ok(data=[{"id": "p1"}]))
    threads.on(
        "GET",
        f"{BASE}/p1/conversation",
        ok(
            data=[
                {
                    "id": "r1",
                    "text": "Top",
                    "username": "lea",
                    "timestamp": "2026-05-04T10:00:00+0000",
                    "permalink": "https://t/r1",
                    "replied_to": {"id": "p1"},
                },
                {
                    "id": "r2",
                    "text": "Merci",
                    "username": "ma.marque",
                    "timestamp": "2026-05-04T10:01:00+0000",
                    "replied_to": {"id": "r1"},
                },
                {
                    "id": "r3",
                    "text": "Et moi",
                    "username": "zoe",
                    "timestamp": "2026-05-04T10:02:00+0000",
                    "replied_to": {"id": "r2"},
                },
            ]
        ),
    )
    adapter = threads.adapter()

    page = adapter.fetch_mentions(ACCOUNT, None)

    assert [(m.external_id, m.author, m.in_reply_to) for m in page.mentions] == [
        ("r1", "lea", "p1"),
        ("r3", "zoe", "r2"),
    ]
    assert adapter.fetch_mentions(ACCOUNT, page.cursor).mentions == ()


def test_metrics_come_from_insights(threads: FakeThreads) -> None:
    threads.on(
        "GET",
        f"{BASE}/p1/insights",
        ok(
            data=[
                {"name": "views", "period": "lifetime", "values": [{"value": 1200}]},
                {"name": "likes", "period": "lifetime", "values": [{"value": 30}]},
                {"name": "replies", "period": "lifetime", "values": [{"value": 4}]},
                {"name": "reposts", "period": "lifetime", "values": [{"value": 2}]},
                {"name": "quotes", "period": "lifetime", "total_value": {"value": 1}},
            ]
        ),
    )
    [metrics] = threads.adapter().fetch_metrics(ACCOUNT, ["p1"])
    assert threads.requests[0].url.params["metric"] == "views,likes,replies,reposts,quotes"
    assert (
        metrics.likes,
        metrics.replies,
        metrics.reposts,
        metrics.quotes,
        metrics.impressions,
    ) == (30, 4, 2, 1, 1200)


def test_refresh_uses_th_refresh_token(threads: FakeThreads) -> None:
    threads.on(
        "GET",
        "/refresh_access_token",
        ok(access_token="fresh", token_type="bearer", expires_in=5183944),
    )
    refreshed = threads.adapter().refresh(ACCOUNT)
    assert threads.requests[0].url.params["grant_type"] == "th_refresh_token"
    assert refreshed["access_token"] == "fresh"


def test_find_published_looks_in_replies_for_a_reply(threads: FakeThreads) -> None:
    threads.on("GET", f"{BASE}/42/replies", ok(data=[{"id": "r8", "text": "Merci"}]))
    found = threads.adapter().find_published(OutgoingPost("Merci", reply_to="p1"), ACCOUNT)
    assert found is not None and found.external_id == "r8"


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("abc", 3),
        ("👍", 4),  # an emoji counts its UTF-8 bytes
        ("👍🏽", 8),  # with a skin tone: 4 + 4
        ("👩\u200d💻", 11),  # ZWJ sequence: 4 + 3 + 4
        ("👨\u200d👩\u200d👧", 18),
        ("🇫🇷", 8),  # flag: two regional indicators
        ("❤️", 6),  # U+2764 + VS16
        ("©", 1),  # text-style symbol, not an emoji
        ("e\u0301", 1),  # combining accent: one character
        ("日本語", 3),
        ("« Ça déménage ! »", 17),
        ("https://example.com/x", 21),
    ],
)
def test_counting_per_threads_docs(text: str, length: int) -> None:
    assert ThreadsAdapter(http=httpx.Client()).count(text) == length


def test_500_limit_counts_emoji_as_bytes() -> None:
    adapter = ThreadsAdapter(http=httpx.Client())
    assert adapter.validate(OutgoingPost("a" * 496 + "👍")) == []
    assert [p.code for p in adapter.validate(OutgoingPost("a" * 497 + "👍"))] == ["too_long"]
