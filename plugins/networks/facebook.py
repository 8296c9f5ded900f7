"""Facebook Pages through the Graph API.

Account: `credentials["access_token"]` is a Page access token; `settings["page_id"]` the Page;
`settings["graph_version"]` (default `v25.0`) the Graph version.

- Text: `POST /{page-id}/feed` with `message` -> `{"id": "{page}_{post}"}`.
- One image: `POST /{page-id}/photos` with `url` (or a multipart `source`), `caption` and
  `alt_text_custom` -> `{"id": photo, "post_id": "{page}_{post}"}`.
- Several images: each uploaded with `published=false`, then `/feed` with
  `attached_media[i]={"media_fbid": …}` (the multi-photo shape is [3p], not in the reference).
- Reply: `POST /{object-id}/comments` with `message` (a comment on a comment is a reply).
- Mentions: comments on the Page's latest posts, read in one call with field expansion
  (`feed?fields=comments…{…}`); cursor = high-water mark of comment times. Comments on posts
  older than the latest `settings["mention_posts"]` (default 25) are not seen.
- Metrics: `GET /?ids=…&fields=reactions.summary(total_count),comments.summary(total_count),
  shares`; impressions are left empty (insights metric names unconfirmed).
- Lookup after a crash: the Page's latest posts (or the comments of `reply_to`) whose text is
  the post's text.
- No refresh grant: Page tokens made from a long-lived user token do not expire ([3p]); a
  reconnect replaces one. No threads.

Confirmed in official docs (developers.facebook.com): the Page Photos edge, Graph error codes
(190, 4, 17, 32, 613, 368, 506) and the BUC header. Not confirmed, from third-party sources
that agree: the 63,206-character limit, counted here in UTF-16 code units (an emoji counts 2),
`caption` on /photos, and the multi-photo `attached_media` flow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    LOOKUP,
    PUBLISH_MEDIA,
    PUBLISH_TEXT,
    REPLIES,
    Account,
    IncomingMention,
    Limits,
    Media,
    MentionPage,
    NetworkAdapter,
    OutgoingPost,
    PostMetrics,
    PublishResult,
)
from plugins.networks.edge import utf16_length
from plugins.networks.graph import GraphApi, HighWaterMark, parse_time
from plugins.networks.hookspecs import hookimpl

DEFAULT_GRAPH_VERSION = "v25.0"
COMMENT_FIELDS = "id,message,created_time,from{id,name},permalink_url,parent{id}"


class FacebookAdapter(NetworkAdapter):
    name = "facebook"
    display_name = "Facebook"
    limits = Limits(
        max_length=63206,
        counting="counted in UTF-16 code units (an emoji counts 2)",
        max_media=10,
        media_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
        max_media_bytes=4 * 1024 * 1024,
        text_required=False,
        capabilities=frozenset(
            {PUBLISH_TEXT, PUBLISH_MEDIA, REPLIES, FETCH_MENTIONS, FETCH_METRICS, LOOKUP}
        ),
    )

    def count(self, text: str) -> int:
        return utf16_length(text)

    def _api(self, account: Account) -> GraphApi:
        version = account.settings.get("graph_version", DEFAULT_GRAPH_VERSION)
        return GraphApi(
            self.http,
            f"https://graph.facebook.com/{version}",
            account.credentials["access_token"],
            self.display_name,
        )

    # publishing -----------------------------------------------------------------------
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        api = self._api(account)
        page_id = account.settings["page_id"]
        if post.reply_to:
            data: dict[str, Any] = {"message": post.text}
            if post.media and post.media[0].url:
                data["attachment_url"] = post.media[0].url
            answer = api.post(f"{post.reply_to}/comments", data)
            return PublishResult(answer["id"], part_ids=(answer["id"],))
        if len(post.media) == 1:
            answer = api.post(f"{page_id}/photos", *_photo(post.media[0], caption=post.text))
            post_id = answer.get("post_id") or answer["id"]
            return _result(post_id)
        if post.media:
            photo_ids = [
                api.post(f"{page_id}/photos", *_photo(media, published=False))["id"]
                for media in post.media
            ]
            data = {"message": post.text}
            for index, photo_id in enumerate(photo_ids):
                data[f"attached_media[{index}]"] = {"media_fbid": photo_id}
            return _result(api.post(f"{page_id}/feed", data)["id"])
        return _result(api.post(f"{page_id}/feed", {"message": post.text})["id"])

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        api = self._api(account)
        page_id = account.settings["page_id"]
        if post.reply_to:
            comments = api.get(f"{post.reply_to}/comments", {"fields": "id,message,from{id}"})
            for comment in comments.get("data", []):
                if (
                    comment.get("from", {}).get("id") == page_id
                    and comment.get("message") == post.text
                ):
                    return PublishResult(comment["id"], part_ids=(comment["id"],))
            return None
        feed = api.get(f"{page_id}/feed", {"fields": "id,message", "limit": 25})
        for entry in feed.get("data", []):
            if entry.get("message", "") == post.text:
                return _result(entry["id"])
        return None

    # reading --------------------------------------------------------------------------
    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        api = self._api(account)
        page_id = account.settings["page_id"]
        limit = int(account.settings.get("mention_posts", 25))
        feed = api.get(
            f"{page_id}/feed",
            {
                "fields": f"id,comments.order(reverse_chronological).limit(50){{{COMMENT_FIELDS}}}",
                "limit": limit,
            },
        )
        mark = HighWaterMark.parse(cursor)
        mentions: list[IncomingMention] = []
        for entry in feed.get("data", []):
            for comment in entry.get("comments", {}).get("data", []):
                author = comment.get("from", {})
                created = parse_time(comment.get("created_time")) or datetime.now(UTC)
                if author.get("id") == page_id or not mark.admits(comment["id"], created):
                    continue
                mentions.append(
                    IncomingMention(
                        external_id=comment["id"],
                        author=author.get("name", ""),
                        text=comment.get("message", ""),
                        created_at=created,
                        url=comment.get("permalink_url", ""),
                        in_reply_to=comment.get("parent", {}).get("id") or entry["id"],
                    )
                )
        return mark.page(mentions, cursor)

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        if not external_ids:
            return []
        answer = self._api(account).get(
            "",
            {
                "ids": ",".join(external_ids),
                "fields": "reactions.summary(total_count).limit(0),"
                "comments.summary(total_count).limit(0),shares",
            },
        )
        metrics = []
        for external_id in external_ids:
            entry = answer.get(external_id)
            if not isinstance(entry, dict):
                continue
            metrics.append(
                PostMetrics(
                    external_id=external_id,
                    likes=int(entry.get("reactions", {}).get("summary", {}).get("total_count", 0)),
                    replies=int(entry.get("comments", {}).get("summary", {}).get("total_count", 0)),
                    reposts=int(entry.get("shares", {}).get("count", 0)),
                )
            )
        return metrics


def _photo(media: Media, caption: str = "", published: bool = True) -> tuple[dict[str, Any], Any]:
    data: dict[str, Any] = {"caption": caption or None, "alt_text_custom": media.alt_text or None}
    if not published:
        data["published"] = False
    if media.url:
        data["url"] = media.url
        return data, None
    return data, {"source": ("image", media.content or b"", media.mime_type)}


def _result(post_id: str) -> PublishResult:
    return PublishResult(post_id, url=f"https://www.facebook.com/{post_id}", part_ids=(post_id,))


@hookimpl
def register_networks(register):  # type: ignore[no-untyped-def]
    register(FacebookAdapter)
