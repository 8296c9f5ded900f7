"""Telegram adapter against the documented Bot API methods and response envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from network_fakes import multipart

from plugins.networks.base import (
    Account,
    AuthExpired,
    Media,
    OutgoingPost,
    Rejected,
    RetryLater,
    Unsupported,
)
from plugins.networks.telegram import TelegramAdapter

BOT_TOKEN = "123456:ABC-secret"
ACCOUNT = Account(
    id="a",
    handle="@tamtam_bot",
    credentials={"bot_token": BOT_TOKEN},
    settings={"chat_id": "@macommu"},
)


class FakeBotApi:
    def __init__(self) -> None:
        self.answers: dict[str, list[httpx.Response]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, *responses: httpx.Response) -> None:
        self.answers.setdefault(method, []).extend(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.path.startswith(f"/bot{BOT_TOKEN}/")
        queue = self.answers.get(request.url.path.rsplit("/", 1)[1])
        if not queue:
            raise AssertionError(f"unexpected {request.url.path}")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def adapter(self) -> TelegramAdapter:
        return TelegramAdapter(http=httpx.Client(transport=httpx.MockTransport(self)))

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(r.content) for r in self.requests]


def result(value: object) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": value})


def failure(code: int, description: str, **parameters: object) -> httpx.Response:
    body: dict[str, object] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(code, json=body)


@pytest.fixture
def bot() -> FakeBotApi:
    return FakeBotApi()


def test_text_is_send_message_to_the_chat(bot: FakeBotApi) -> None:
    bot.on("sendMessage", result({"message_id": 77, "chat": {"id": -100123}}))

    published = bot.adapter().publish(OutgoingPost("Bonjour « tout le monde »"), ACCOUNT)

    assert bot.requests[0].url.host == "api.telegram.org"
    assert bot.bodies() == [{"chat_id": "@macommu", "text": "Bonjour « tout le monde »"}]
    assert (published.external_id, published.url) == ("77", "https://t.me/macommu/77")


def test_reply_uses_reply_parameters(bot: FakeBotApi) -> None:
    bot.on("sendMessage", result({"message_id": 78}))
    bot.adapter().publish(OutgoingPost("Merci", reply_to="77"), ACCOUNT)
    assert bot.bodies()[0]["reply_parameters"] == {"message_id": 77}


def test_thread_is_chained_replies(bot: FakeBotApi) -> None:
    bot.on(
        "sendMessage",
        result({"message_id": 1}),
        result({"message_id": 2}),
        result({"message_id": 3}),
    )
    published = bot.adapter().publish(OutgoingPost("1/3", thread=("2/3", "3/3")), ACCOUNT)
    first, second, third = bot.bodies()
    assert "reply_parameters" not in first
    assert second["reply_parameters"] == {"message_id": 1} and second["text"] == "2/3"
    assert third["reply_parameters"] == {"message_id": 2}
    assert published.part_ids == ("1", "2", "3")


def test_one_photo_by_url_is_send_photo_with_caption(bot: FakeBotApi) -> None:
    bot.on("sendPhoto", result({"message_id": 9}))
    photo = Media("image/jpeg", alt_text="ignored", url="https://cdn.example/a.jpg")
    bot.adapter().publish(OutgoingPost("Légende", media=(photo,)), ACCOUNT)
    assert bot.bodies() == [
        {"chat_id": "@macommu", "caption": "Légende", "photo": "https://cdn.example/a.jpg"}
    ]


def test_one_uploaded_photo_is_multipart(bot: FakeBotApi) -> None:
    bot.on("sendPhoto", result({"message_id": 9}))
    bot.adapter().publish(
        OutgoingPost("Légende", media=(Media("image/png", content=b"PNG"),)), ACCOUNT
    )
    parts = multipart(bot.requests[0])
    assert parts == {"chat_id": "@macommu", "caption": "Légende", "photo": b"PNG"}


def test_several_photos_are_a_media_group_with_the_caption_first(bot: FakeBotApi) -> None:
    bot.on("sendMediaGroup", result([{"message_id": 20}, {"message_id": 21}]))
    photos = (
        Media("image/jpeg", url="https://cdn.example/1.jpg"),
        Media("image/png", content=b"PNG2"),
    )

    published = bot.adapter().publish(OutgoingPost("Album", media=photos), ACCOUNT)

    parts = multipart(bot.requests[0])
    assert json.loads(parts["media"]) == [
        {"type": "photo", "media": "https://cdn.example/1.jpg", "caption": "Album"},
        {"type": "photo", "media": "attach://photo1"},
    ]
    assert parts["photo1"] == b"PNG2"
    assert published.external_id == "20"


def test_flood_control_waits_retry_after(bot: FakeBotApi) -> None:
    bot.on("sendMessage", failure(429, "Too Many Requests: retry after 14", retry_after=14))
    with pytest.raises(RetryLater) as caught:
        bot.adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert caught.value.after == 14


@pytest.mark.parametrize(
    ("response", "kind", "fragment"),
    [
        (failure(401, "Unauthorized"), AuthExpired, "Unauthorized"),
        (
            failure(400, "Bad Request: can't parse entities: Unsupported start tag"),
            Rejected,
            "can't parse entities",
        ),
        (failure(400, "Bad Request: message is too long"), Rejected, "message is too long"),
        (
            failure(403, "Forbidden: bot is not a member of the channel chat"),
            Rejected,
            "not a member",
        ),
        (
            failure(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=-1009,
            ),
            Rejected,
            "-1009",
        ),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), RetryLater, "502"),
    ],
)
def test_errors_are_translated_without_the_token(
    bot: FakeBotApi, response: httpx.Response, kind: type, fragment: str
) -> None:
    bot.on("sendMessage", response)
    with pytest.raises(kind) as caught:
        bot.adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert fragment in str(caught.value)
    assert BOT_TOKEN not in str(caught.value)


def test_timeout_does_not_leak_the_token_in_the_url() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out on {request.url}", request=request)

    adapter = TelegramAdapter(http=httpx.Client(transport=httpx.MockTransport(timeout)))
    with pytest.raises(RetryLater) as caught:
        adapter.publish(OutgoingPost("x"), ACCOUNT)
    assert BOT_TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_mentions_come_from_get_updates_with_the_offset_cursor(bot: FakeBotApi) -> None:
    bot.on(
        "getUpdates",
        result(
            [
                {
                    "update_id": 500,
                    "message": {
                        "message_id": 5,
                        "date": 1777888800,
                        "text": "@tamtam_bot bonjour",
                        "chat": {"id": -100123, "username": "macommu", "type": "supergroup"},
                        "from": {"id": 1, "is_bot": False, "first_name": "Léa", "username": "lea"},
                    },
                },
                {
                    "update_id": 501,
                    "message": {
                        "message_id": 6,
                        "date": 1777888801,
                        "text": "ailleurs",
                        "chat": {"id": 999, "type": "private"},
                        "from": {"id": 2},
                    },
                },
                {
                    "update_id": 502,
                    "message": {
                        "message_id": 7,
                        "date": 1777888802,
                        "caption": "photo !",
                        "chat": {"id": -100123, "username": "macommu"},
                        "from": {"id": 3, "first_name": "Zoé"},
                        "reply_to_message": {"message_id": 77},
                    },
                },
            ]
        ),
        result([]),
    )
    adapter = bot.adapter()

    page = adapter.fetch_mentions(ACCOUNT, "500")

    assert bot.bodies()[0] == {
        "timeout": 0,
        "allowed_updates": ["message", "channel_post"],
        "offset": 500,
    }
    assert [(m.external_id, m.author, m.text, m.in_reply_to) for m in page.mentions] == [
        ("5", "lea", "@tamtam_bot bonjour", None),
        ("7", "Zoé", "photo !", "77"),
    ]
    assert page.mentions[0].created_at == datetime.fromtimestamp(1777888800, UTC)
    assert page.cursor == "503"
    assert adapter.fetch_mentions(ACCOUNT, page.cursor).cursor == "503"


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("👍", 2),
        ("👍🏽", 4),
        ("👨\u200d👩\u200d👧", 8),
        ("e\u0301", 2),
        ("日本語", 3),
        ("« Ça déménage ! »", 17),
        ("https://example.com/x", 21),
    ],
)
def test_counting_in_utf16_code_units(text: str, length: int) -> None:
    assert TelegramAdapter(http=httpx.Client()).count(text) == length


def test_caption_limit_is_1024_with_media_and_4096_without() -> None:
    adapter = TelegramAdapter(http=httpx.Client())
    photo = Media("image/jpeg", url="https://cdn.example/a.jpg")
    assert adapter.validate(OutgoingPost("a" * 1024, media=(photo,))) == []
    problems = adapter.validate(OutgoingPost("a" * 1023 + "😀", media=(photo,)))
    assert [p.code for p in problems] == ["too_long"] and "1024" in problems[0].message
    assert adapter.validate(OutgoingPost("a" * 4096)) == []
    assert [p.code for p in adapter.validate(OutgoingPost("a" * 4095 + "😀"))] == ["too_long"]


def test_metrics_refresh_and_lookup_are_unsupported() -> None:
    adapter = TelegramAdapter(http=httpx.Client())
    with pytest.raises(Unsupported):
        adapter.fetch_metrics(ACCOUNT, ["1"])
    with pytest.raises(Unsupported):
        adapter.refresh(ACCOUNT)
    with pytest.raises(Unsupported):
        adapter.find_published(OutgoingPost("x"), ACCOUNT)
