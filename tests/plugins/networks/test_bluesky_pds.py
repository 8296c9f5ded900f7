"""The Bluesky adapter against a real local PDS (see conftest.py)."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from plugins.networks.base import Account, AuthExpired, Media, OutgoingPost, Rejected
from plugins.networks.bluesky import BlueskyAdapter, split_uri

pytestmark = pytest.mark.pds

# A valid 1x1 PNG (one white pixel).
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="
)


@pytest.fixture
def adapter() -> BlueskyAdapter:
    return BlueskyAdapter(http=httpx.Client(timeout=30.0))


@pytest.fixture
def account(local_pds) -> Account:
    return Account(
        id=f"acct-{uuid.uuid4().hex[:6]}",
        handle=local_pds.handle,
        credentials={"identifier": local_pds.handle, "password": local_pds.password},
        settings={"service": local_pds.url},
    )


def get_record(local_pds, uri: str) -> dict:
    repo, collection, rkey = split_uri(uri)
    response = httpx.get(
        f"{local_pds.url}/xrpc/com.atproto.repo.getRecord",
        params={"repo": repo, "collection": collection, "rkey": rkey},
    )
    assert response.status_code == 200, response.text
    return response.json()


def facet_texts(record: dict) -> dict[str, str]:
    """Each facet's feature type → the substring its byte range points at."""
    raw = record["value"]["text"].encode("utf-8")
    found = {}
    for facet in record["value"].get("facets", []):
        feature = facet["features"][0]
        kind = feature["$type"].split("#")[1]
        found[kind] = raw[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode("utf-8")
    return found


def test_text_post_with_link_tag_and_mention_facets_points_at_the_right_bytes(
    adapter, account, local_pds
):
    text = (
        f"Été à Marseille 🌞 : « déjà » complet ! Réservez sur https://exemple.fr/billets "
        f"#Fête2026 merci @{local_pds.handle}"
    )
    result = adapter.publish(OutgoingPost(text=text, idempotency_key=uuid.uuid4().hex), account)

    record = get_record(local_pds, result.external_id)
    assert record["value"]["text"] == text
    assert facet_texts(record) == {
        "link": "https://exemple.fr/billets",
        "tag": "#Fête2026",
        "mention": f"@{local_pds.handle}",
    }
    features = [facet["features"][0] for facet in record["value"]["facets"]]
    assert {"$type": "app.bsky.richtext.facet#tag", "tag": "Fête2026"} in features
    assert {"$type": "app.bsky.richtext.facet#mention", "did": local_pds.did} in features
    assert result.url.endswith("/post/" + split_uri(result.external_id)[2])


def test_image_post_carries_the_uploaded_blob_and_alt_text(adapter, account, local_pds):
    media = Media(
        mime_type="image/png", alt_text="Un pixel blanc", content=PNG_1X1, width=1, height=1
    )
    post = OutgoingPost(text="Une image 🖼️", media=(media,), idempotency_key=uuid.uuid4().hex)
    assert adapter.validate(post) == []

    result = adapter.publish(post, account)

    embed = get_record(local_pds, result.external_id)["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    image = embed["images"][0]
    assert image["alt"] == "Un pixel blanc"
    assert image["image"]["mimeType"] == "image/png"
    assert image["image"]["size"] == len(PNG_1X1)
    assert image["aspectRatio"] == {"width": 1, "height": 1}


def test_reply_and_thread_reference_root_and_parent(adapter, account, local_pds):
    root = adapter.publish(OutgoingPost(text="Premier", idempotency_key=uuid.uuid4().hex), account)
    reply = adapter.publish(
        OutgoingPost(
            text="Réponse",
            reply_to=root.external_id,
            thread=("Suite",),
            idempotency_key=uuid.uuid4().hex,
        ),
        account,
    )

    first, second = (get_record(local_pds, uri) for uri in reply.part_ids)
    assert first["value"]["reply"]["root"]["uri"] == root.external_id
    assert first["value"]["reply"]["parent"]["uri"] == root.external_id
    assert second["value"]["reply"]["root"]["uri"] == root.external_id
    assert second["value"]["reply"]["parent"]["uri"] == reply.external_id
    assert second["value"]["reply"]["parent"]["cid"] == first["cid"]


def test_a_repeated_publish_returns_the_same_post_and_find_published_finds_it(
    adapter, account, local_pds
):
    post = OutgoingPost(text="Une seule fois", idempotency_key=uuid.uuid4().hex)
    assert adapter.find_published(post, account) is None

    first = adapter.publish(post, account)
    again = adapter.publish(post, account)
    found = adapter.find_published(post, account)

    assert again.external_id == first.external_id
    assert found is not None and found.external_id == first.external_id
    listed = httpx.get(
        f"{local_pds.url}/xrpc/com.atproto.repo.listRecords",
        params={"repo": local_pds.did, "collection": "app.bsky.feed.post", "limit": 100},
    ).json()["records"]
    assert [r["uri"] for r in listed].count(first.external_id) == 1
    assert sum(r["value"]["text"] == "Une seule fois" for r in listed) == 1


def test_301_graphemes_are_refused_by_our_validator_and_by_the_server(adapter, account):
    text = "é" * 295 + "👩🏽‍💻" * 6  # 301 graphemes, 614 bytes
    problems = adapter.validate(OutgoingPost(text=text))
    assert [p.code for p in problems] == ["too_long"]
    assert "301 of 300" in problems[0].message

    with pytest.raises(Rejected, match="grapheme"):
        adapter.publish(OutgoingPost(text=text, idempotency_key=uuid.uuid4().hex), account)
    # 300 graphemes pass both.
    ok = adapter.publish(
        OutgoingPost(text=text[: -len("👩🏽‍💻")], idempotency_key=uuid.uuid4().hex), account
    )
    assert ok.external_id.startswith("at://")


def test_a_garbage_access_token_is_replaced_by_logging_in_again(adapter, local_pds):
    account = Account(
        id="garbage",
        handle=local_pds.handle,
        credentials={
            "accessJwt": "not-a-jwt",
            "refreshJwt": "also-not",
            "did": local_pds.did,
            "identifier": local_pds.handle,
            "password": local_pds.password,
        },
        settings={"service": local_pds.url},
    )
    with pytest.raises(AuthExpired):
        adapter.publish(OutgoingPost(text="x", idempotency_key=uuid.uuid4().hex), account)

    fresh = adapter.refresh(account)
    assert fresh["accessJwt"] != "not-a-jwt"
    result = adapter.publish(OutgoingPost(text="après", idempotency_key=uuid.uuid4().hex), account)
    assert result.external_id.startswith(f"at://{local_pds.did}/")


def test_a_wrong_password_is_auth_expired(adapter, local_pds):
    account = Account(
        id="wrong",
        handle=local_pds.handle,
        credentials={"identifier": local_pds.handle, "password": "wrong"},
        settings={"service": local_pds.url},
    )
    with pytest.raises(AuthExpired, match="AuthenticationRequired"):
        adapter.publish(OutgoingPost(text="x", idempotency_key="k"), account)


def test_refresh_session_gives_a_working_new_token(adapter, account):
    adapter.publish(OutgoingPost(text="avant", idempotency_key=uuid.uuid4().hex), account)
    old = dict(account.credentials)
    fresh = adapter.refresh(account)
    assert fresh["refreshJwt"] != old["refreshJwt"]
    result = adapter.publish(OutgoingPost(text="après", idempotency_key=uuid.uuid4().hex), account)
    assert result.external_id


def test_reads_without_appview_are_retry_later(adapter, account):
    from plugins.networks.base import RetryLater

    with pytest.raises(RetryLater, match="502"):
        adapter.fetch_metrics(account, ["at://did:plc:x/app.bsky.feed.post/3kabc"])
