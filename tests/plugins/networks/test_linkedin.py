"""LinkedIn adapter against the documented Posts, Images, Comments and OAuth shapes."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest
from network_fakes import Routes

from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    THREADS,
    Account,
    AuthExpired,
    Media,
    OutgoingPost,
    Rejected,
    RetryLater,
    Unsupported,
)
from plugins.networks.linkedin import LinkedInAdapter, escape_little

AUTHOR = "urn:li:person:abc123"
TOKEN = "li-secret-token"


class FakeLinkedIn(Routes):
    def adapter(self) -> LinkedInAdapter:
        return LinkedInAdapter(http=self.client())


def account(**credentials: str) -> Account:
    return Account(
        id="acc-1",
        handle="jeanne",
        credentials={"access_token": TOKEN, **credentials},
        settings={"author_urn": AUTHOR, "linkedin_version": "202605"},
    )


def created(urn: str) -> httpx.Response:
    return httpx.Response(201, headers={"x-restli-id": urn})


@pytest.fixture
def network() -> FakeLinkedIn:
    return FakeLinkedIn()


def test_text_post_sends_required_headers_and_documented_body(network: FakeLinkedIn) -> None:
    network.on("POST", "/rest/posts", created("urn:li:share:777"))

    result = network.adapter().publish(OutgoingPost("Bonjour à tous"), account())

    request = network.requests[0]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["linkedin-version"] == "202605"
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert json.loads(request.content) == {
        "author": AUTHOR,
        "commentary": "Bonjour à tous",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert result.external_id == "urn:li:share:777"
    assert result.url == "https://www.linkedin.com/feed/update/urn:li:share:777/"
    assert result.part_ids == ("urn:li:share:777",)


def test_commentary_is_escaped_as_little_text_at_publish_time(network: FakeLinkedIn) -> None:
    network.on("POST", "/rest/posts", created("urn:li:share:1"))
    text = "Prix (HT) : 5 € *promo* [lien] <3 ~ a_b | {x} \\ @jeanne"

    network.adapter().publish(OutgoingPost(text), account())

    commentary = json.loads(network.requests[0].content)["commentary"]
    assert commentary == (
        "Prix \\(HT\\) : 5 € \\*promo\\* \\[lien\\] \\<3 \\~ a\\_b \\| \\{x\\} \\\\ \\@jeanne"
    )


def test_escaping_keeps_urls_hashtags_and_mention_templates_working() -> None:
    text = "Voir https://ex.com/a_(b) #Été2026 @[Devtestco](urn:li:organization:2414183) (fin)"
    assert escape_little(text) == (
        "Voir https://ex.com/a_(b) #Été2026 @[Devtestco](urn:li:organization:2414183) \\(fin\\)"
    )


def test_escaping_is_not_a_validation_problem() -> None:
    adapter = LinkedInAdapter(http=httpx.Client())
    assert adapter.validate(OutgoingPost("(a) [b] {c} *d* _e_ ~f~ <g> | \\ @h #i")) == []


def test_missing_restli_header_falls_back_to_body_id(network: FakeLinkedIn) -> None:
    network.on("POST", "/rest/posts", httpx.Response(201, json={"id": "urn:li:ugcPost:9"}))
    assert (
        network.adapter().publish(OutgoingPost("hi"), account()).external_id == "urn:li:ugcPost:9"
    )


def test_one_image_is_initialized_uploaded_then_attached_with_alt_text(
    network: FakeLinkedIn,
) -> None:
    upload_url = "https://www.linkedin.com/dms-uploads/sp/abc/uploaded-image/0"
    network.on(
        "POST",
        "/rest/images",
        httpx.Response(200, json={"value": {"uploadUrl": upload_url, "image": "urn:li:image:C4E"}}),
    )
    network.on("PUT", "/dms-uploads/sp/abc/uploaded-image/0", httpx.Response(201))
    network.on("POST", "/rest/posts", created("urn:li:share:2"))
    photo = Media("image/png", alt_text="Une affiche", content=b"\x89PNG...")

    network.adapter().publish(OutgoingPost("Affiche", media=(photo,)), account())

    init, put, post = network.requests
    assert init.url.params["action"] == "initializeUpload"
    assert json.loads(init.content) == {"initializeUploadRequest": {"owner": AUTHOR}}
    assert str(put.url) == upload_url
    assert put.content == b"\x89PNG..."
    assert put.headers["content-type"] == "image/png"
    assert json.loads(post.content)["content"] == {
        "media": {"id": "urn:li:image:C4E", "altText": "Une affiche"}
    }


def test_several_images_become_a_multi_image_post(network: FakeLinkedIn) -> None:
    network.on(
        "POST",
        "/rest/images",
        httpx.Response(
            200, json={"value": {"uploadUrl": "https://up.example/1", "image": "urn:li:image:1"}}
        ),
        httpx.Response(
            200, json={"value": {"uploadUrl": "https://up.example/2", "image": "urn:li:image:2"}}
        ),
    )
    network.on("PUT", "/1", httpx.Response(201))
    network.on("PUT", "/2", httpx.Response(201))
    network.on("POST", "/rest/posts", created("urn:li:share:3"))
    photos = (Media("image/jpeg", content=b"1", alt_text="un"), Media("image/jpeg", content=b"2"))

    network.adapter().publish(OutgoingPost("Deux", media=photos), account())

    body = json.loads(network.requests[-1].content)
    assert body["content"] == {
        "multiImage": {
            "images": [{"id": "urn:li:image:1", "altText": "un"}, {"id": "urn:li:image:2"}]
        }
    }


def test_reply_is_a_comment_on_the_post_in_plain_text(network: FakeLinkedIn) -> None:
    post_urn = "urn:li:share:42"
    path = "/rest/socialActions/urn%3Ali%3Ashare%3A42/comments"
    # httpx reports the decoded path; the raw one shows the URN was percent-encoded.
    network.on(
        "POST",
        "/rest/socialActions/urn:li:share:42/comments",
        created("urn:li:comment:(urn:li:activity:1,99)"),
    )

    result = network.adapter().publish(
        OutgoingPost("Merci (vraiment) !", reply_to=post_urn), account()
    )

    request = network.requests[0]
    assert request.url.raw_path.decode().startswith(path)
    assert json.loads(request.content) == {
        "actor": AUTHOR,
        "object": post_urn,
        "message": {"text": "Merci (vraiment) !"},
    }
    assert result.external_id == "urn:li:comment:(urn:li:activity:1,99)"


def test_duplicate_post_is_rejected_with_linkedins_message(network: FakeLinkedIn) -> None:
    network.on(
        "POST",
        "/rest/posts",
        httpx.Response(
            422,
            json={
                "message": "Content is a duplicate of urn:li:share:123",
                "status": 422,
                "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST"}]},
            },
        ),
    )
    with pytest.raises(Rejected) as caught:
        network.adapter().publish(OutgoingPost("again"), account())
    assert "duplicate" in caught.value.reason
    assert "urn:li:share:123" in caught.value.reason


def test_expired_token_is_auth_expired_without_the_token(network: FakeLinkedIn) -> None:
    network.on(
        "POST",
        "/rest/posts",
        httpx.Response(401, json={"message": "Expired access token", "status": 401}),
    )
    with pytest.raises(AuthExpired) as caught:
        network.adapter().publish(OutgoingPost("x"), account())
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("response", "after"),
    [
        (
            httpx.Response(429, json={"message": "Resource level throttle limit", "status": 429}),
            None,
        ),
        (httpx.Response(429, headers={"Retry-After": "30"}), 30.0),
        (httpx.Response(503, text="<html>unavailable</html>"), None),
    ],
)
def test_throttling_and_server_errors_retry_later(
    network: FakeLinkedIn, response: httpx.Response, after: float | None
) -> None:
    network.on("POST", "/rest/posts", response)
    with pytest.raises(RetryLater) as caught:
        network.adapter().publish(OutgoingPost("x"), account())
    assert caught.value.after == after


def test_timeout_retries_later_without_leaking_the_url() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    adapter = LinkedInAdapter(http=httpx.Client(transport=httpx.MockTransport(timeout)))
    with pytest.raises(RetryLater) as caught:
        adapter.publish(OutgoingPost("x"), account())
    assert "api.linkedin.com" not in caught.value.reason
    assert caught.value.__suppress_context__


def test_forbidden_scope_is_rejected(network: FakeLinkedIn) -> None:
    network.on(
        "POST",
        "/rest/posts",
        httpx.Response(403, json={"message": "Not enough permissions", "status": 403}),
    )
    with pytest.raises(Rejected, match="Not enough permissions"):
        network.adapter().publish(OutgoingPost("x"), account())


def test_refresh_uses_the_refresh_grant_when_a_refresh_token_exists(network: FakeLinkedIn) -> None:
    network.on(
        "POST",
        "/oauth/v2/accessToken",
        httpx.Response(
            200, json={"access_token": "new", "expires_in": 5184000, "refresh_token": "r2"}
        ),
    )
    creds = {"refresh_token": "r1", "client_id": "cid", "client_secret": "cs"}

    refreshed = network.adapter().refresh(account(**creds))

    form = parse_qs(network.requests[0].content.decode())
    assert network.requests[0].url.host == "www.linkedin.com"
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["r1"],
        "client_id": ["cid"],
        "client_secret": ["cs"],
    }
    assert refreshed["access_token"] == "new"
    assert refreshed["refresh_token"] == "r2"
    assert refreshed["client_id"] == "cid"


def test_refresh_without_refresh_token_means_reconnect(network: FakeLinkedIn) -> None:
    with pytest.raises(AuthExpired, match="reconnect"):
        network.adapter().refresh(account())
    assert network.requests == []


def test_refused_refresh_token_is_auth_expired(network: FakeLinkedIn) -> None:
    network.on(
        "POST",
        "/oauth/v2/accessToken",
        httpx.Response(
            400, json={"error": "invalid_request", "error_description": "expired refresh token"}
        ),
    )
    with pytest.raises(AuthExpired, match="expired refresh token"):
        network.adapter().refresh(account(refresh_token="old"))


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("👍🏽", 4),  # emoji + skin tone: two surrogate pairs
        ("👨\u200d👩\u200d👧", 8),  # ZWJ family
        ("e\u0301", 2),  # combining accent
        ("é", 1),
        ("日本語", 3),
        ("https://example.com/un/très/long/chemin", 39),  # URLs count in full
        ("« Ça déménage ! »", 17),
    ],
)
def test_counting_in_utf16_code_units(text: str, length: int) -> None:
    assert LinkedInAdapter(http=httpx.Client()).count(text) == length


def test_over_3000_is_too_long() -> None:
    adapter = LinkedInAdapter(http=httpx.Client())
    assert adapter.validate(OutgoingPost("a" * 3000)) == []
    problems = adapter.validate(OutgoingPost("é" * 2999 + "👍"))
    assert [problem.code for problem in problems] == ["too_long"]


def test_absent_capabilities_raise_unsupported() -> None:
    adapter = LinkedInAdapter(http=httpx.Client())
    assert not adapter.supports(THREADS)
    with pytest.raises(Unsupported):
        adapter.fetch_mentions(account(), None)
    with pytest.raises(Unsupported):
        adapter.fetch_metrics(account(), ["urn:li:share:1"])
    with pytest.raises(Unsupported):
        adapter.find_published(OutgoingPost("x"), account())
    assert FETCH_MENTIONS not in adapter.describe()["capabilities"]
    assert FETCH_METRICS not in adapter.describe()["capabilities"]
    assert [p.code for p in adapter.validate(OutgoingPost("a", thread=("b",)))] == ["no_threads"]
