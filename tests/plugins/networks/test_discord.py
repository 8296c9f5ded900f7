"""Discord webhook adapter against the documented execute-webhook shapes and errors."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import pytest

from plugins.networks.base import (
    Account,
    AuthExpired,
    Media,
    OutgoingPost,
    Rejected,
    RetryLater,
    Unsupported,
)
from plugins.networks.discord import DiscordAdapter

WEBHOOK_TOKEN = "wh-secret-token"
WEBHOOK = f"https://discord.com/api/webhooks/1234/{WEBHOOK_TOKEN}"
ACCOUNT = Account(
    id="a", handle="#annonces", credentials={"webhook_url": WEBHOOK}, settings={"guild_id": "55"}
)
MESSAGE = {"id": "9001", "channel_id": "77", "content": "x"}


class FakeDiscord:
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            return httpx.Response(200, content=b"downloaded-bytes")
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]

    def adapter(self) -> DiscordAdapter:
        return DiscordAdapter(http=httpx.Client(transport=httpx.MockTransport(self)))


def multipart(request: httpx.Request) -> dict[str, tuple[str | None, object]]:
    head = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    parts: dict[str, tuple[str | None, object]] = {}
    for part in message.iter_parts():
        raw = part.get_payload(decode=True)
        name = part.get_param("name", header="content-disposition")
        parts[name] = (part.get_filename(), raw if part.get_filename() else raw.decode("utf-8"))
    return parts


def test_text_is_executed_with_wait_true_and_no_pings() -> None:
    discord = FakeDiscord(httpx.Response(200, json=MESSAGE))

    result = discord.adapter().publish(OutgoingPost("Nouvelle annonce @everyone"), ACCOUNT)

    request = discord.requests[0]
    assert (request.method, request.url.path) == ("POST", f"/api/webhooks/1234/{WEBHOOK_TOKEN}")
    assert request.url.params["wait"] == "true"
    assert json.loads(request.content) == {
        "content": "Nouvelle annonce @everyone",
        "allowed_mentions": {"parse": []},
    }
    assert result.external_id == "9001"
    assert result.url == "https://discord.com/channels/55/77/9001"


def test_thread_id_username_and_avatar_come_from_settings() -> None:
    discord = FakeDiscord(httpx.Response(200, json=MESSAGE))
    account = Account(
        id="a",
        handle="h",
        credentials={"webhook_url": WEBHOOK},
        settings={"thread_id": "321", "username": "Tamtam", "avatar_url": "https://a/p.png"},
    )
    discord.adapter().publish(OutgoingPost("x"), account)
    body = json.loads(discord.requests[0].content)
    assert discord.requests[0].url.params["thread_id"] == "321"
    assert (body["username"], body["avatar_url"]) == ("Tamtam", "https://a/p.png")


def test_files_are_multipart_with_payload_json_and_alt_text_descriptions() -> None:
    discord = FakeDiscord(httpx.Response(200, json=MESSAGE))
    photos = (
        Media("image/png", alt_text="Un logo", content=b"PNG"),
        Media("image/jpeg", url="https://cdn.example/b.jpg"),
    )

    discord.adapter().publish(OutgoingPost("Deux images", media=photos), ACCOUNT)

    download, post = discord.requests
    assert (download.method, str(download.url)) == ("GET", "https://cdn.example/b.jpg")
    assert post.url.params["wait"] == "true"
    parts = multipart(post)
    assert parts["files[0]"] == ("image0.png", b"PNG")
    assert parts["files[1]"] == ("image1.jpg", b"downloaded-bytes")
    payload = json.loads(parts["payload_json"][1])  # type: ignore[arg-type]
    assert payload["content"] == "Deux images"
    assert payload["attachments"] == [
        {"id": 0, "filename": "image0.png", "description": "Un logo"},
        {"id": 1, "filename": "image1.jpg"},
    ]


def test_rate_limit_uses_the_float_retry_after_of_the_body() -> None:
    discord = FakeDiscord(
        httpx.Response(
            429,
            headers={"Retry-After": "2", "X-RateLimit-Scope": "shared"},
            json={"message": "You are being rate limited.", "retry_after": 1.337, "global": False},
        )
    )
    with pytest.raises(RetryLater) as caught:
        discord.adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert caught.value.after == 1.337


def test_rate_limit_without_body_uses_the_retry_after_header() -> None:
    discord = FakeDiscord(httpx.Response(429, headers={"Retry-After": "3"}, text="rate limited"))
    with pytest.raises(RetryLater) as caught:
        discord.adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert caught.value.after == 3.0


@pytest.mark.parametrize(
    ("response", "kind", "fragment"),
    [
        (
            httpx.Response(401, json={"message": "401: Unauthorized", "code": 0}),
            AuthExpired,
            "Unauthorized",
        ),
        (
            httpx.Response(404, json={"message": "Unknown Webhook", "code": 10015}),
            AuthExpired,
            "new webhook URL",
        ),
        (
            httpx.Response(400, json={"message": "Cannot send an empty message", "code": 50006}),
            Rejected,
            "empty",
        ),
        (
            httpx.Response(
                400,
                json={
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {
                        "content": {
                            "_errors": [
                                {
                                    "code": "BASE_TYPE_MAX_LENGTH",
                                    "message": "Must be 2000 or fewer in length.",
                                }
                            ]
                        }
                    },
                },
            ),
            Rejected,
            "content: Must be 2000 or fewer in length.",
        ),
        (
            httpx.Response(403, json={"message": "Missing Permissions", "code": 50013}),
            Rejected,
            "Missing Permissions",
        ),
        (httpx.Response(503, text="upstream connect error"), RetryLater, "503"),
    ],
)
def test_errors_are_translated_without_the_webhook_token(
    response: httpx.Response, kind: type, fragment: str
) -> None:
    with pytest.raises(kind) as caught:
        FakeDiscord(response).adapter().publish(OutgoingPost("x"), ACCOUNT)
    assert fragment in str(caught.value)
    assert WEBHOOK_TOKEN not in str(caught.value)


def test_connection_error_does_not_leak_the_webhook_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    adapter = DiscordAdapter(http=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(RetryLater) as caught:
        adapter.publish(OutgoingPost("x"), ACCOUNT)
    assert WEBHOOK_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("👍", 1),
        ("👍🏽", 2),
        ("👨\u200d👩\u200d👧", 5),
        ("e\u0301", 2),
        ("日本語", 3),
        ("« Ça déménage ! »", 17),
    ],
)
def test_counting_in_code_points(text: str, length: int) -> None:
    assert DiscordAdapter(http=httpx.Client()).count(text) == length


def test_validation_limits() -> None:
    adapter = DiscordAdapter(http=httpx.Client())
    assert adapter.validate(OutgoingPost("a" * 2000)) == []
    assert [p.code for p in adapter.validate(OutgoingPost("a" * 2001))] == ["too_long"]
    long_alt = Media("image/png", alt_text="a" * 1025, content=b"x")
    assert [p.code for p in adapter.validate(OutgoingPost("", media=(long_alt,)))] == [
        "alt_text_too_long"
    ]
    assert [p.code for p in adapter.validate(OutgoingPost(""))] == ["empty_post"]
    assert [p.code for p in adapter.validate(OutgoingPost("a", reply_to="1"))] == ["no_replies"]


def test_reading_replying_and_refreshing_are_unsupported() -> None:
    adapter = DiscordAdapter(http=httpx.Client(transport=httpx.MockTransport(FakeDiscord())))
    for call in (
        lambda: adapter.fetch_mentions(ACCOUNT, None),
        lambda: adapter.fetch_metrics(ACCOUNT, ["1"]),
        lambda: adapter.refresh(ACCOUNT),
        lambda: adapter.find_published(OutgoingPost("x"), ACCOUNT),
        lambda: adapter.publish(OutgoingPost("x", reply_to="1"), ACCOUNT),
        lambda: adapter.publish(OutgoingPost("x", thread=("y",)), ACCOUNT),
    ):
        with pytest.raises(Unsupported):
            call()
