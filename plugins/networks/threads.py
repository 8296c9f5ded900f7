"""Threads (Meta) through the Threads API.

Account: `credentials["access_token"]` (long-lived Threads user token);
`settings["threads_user_id"]` (default `me`).

- Post: `POST /{user}/threads` (`media_type` TEXT|IMAGE|CAROUSEL, `text`, `image_url`,
  `alt_text`, `reply_to_id`) -> container; `GET /{container}?fields=status,error_message`
  until FINISHED (ERROR/EXPIRED -> `Rejected`); `POST /{user}/threads_publish` (`creation_id`).
- Carousel: children with `is_carousel_item=true`, then `media_type=CAROUSEL&children=…`.
- Thread: each further part is a TEXT post whose `reply_to_id` is the part before it.
- Mentions: `GET /{media}/conversation` of the latest `settings["mention_posts"]` (default
  10) posts; cursor = high-water mark of reply times.
- Metrics: `GET /{media}/insights?metric=views,likes,replies,reposts,quotes`.
- Refresh: `GET /refresh_access_token?grant_type=th_refresh_token` (token at least 24 h old).

Counting, confirmed in the official docs (developers.facebook.com/documentation/threads/posts):
"Text posts are limited to 500 characters. Emojis are counted as the number of UTF-8 bytes",
the docs linking a grapheme splitter; so each user-perceived character counts 1, and an emoji
(a whole sequence: skin tone, ZWJ family, flag, keycap) counts its UTF-8 bytes (👍 4,
👍🏽 8, 👩‍💻 11). Also confirmed: the container/publish flow, carousels, reply_to_id, the
250 posts / 24 h limit, th_refresh_token. Unconfirmed: that errors use Meta's Graph envelope
(handled as such), the carousel maximum (20, [3p]), and `alt_text` on Threads images.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import regex

from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    LOOKUP,
    PUBLISH_MEDIA,
    PUBLISH_TEXT,
    REFRESH,
    REPLIES,
    THREADS,
    Account,
    IncomingMention,
    Limits,
    Media,
    MentionPage,
    OutgoingPost,
    PostMetrics,
    PublishResult,
)
from plugins.networks.graph import (
    ContainerAdapter,
    GraphApi,
    HighWaterMark,
    parse_time,
    same_text,
)
from plugins.networks.hookspecs import hookimpl

BASE_URL = "https://graph.threads.net/v1.0"
REPLY_FIELDS = "id,text,username,timestamp,permalink,replied_to"
_GRAPHEME = regex.compile(r"\X")
# A grapheme is an emoji when it holds an emoji-presentation character, a variation selector
# 16, a skin tone, a keycap mark or a regional indicator (flags).
_EMOJI_MARK = regex.compile(
    r"[\p{Emoji_Presentation}\uFE0F\p{Emoji_Modifier}\u20E3\p{Regional_Indicator}]"
)


def threads_length(text: str) -> int:
    total = 0
    for grapheme in _GRAPHEME.findall(text):
        total += len(grapheme.encode("utf-8")) if _EMOJI_MARK.search(grapheme) else 1
    return total


class ThreadsAdapter(ContainerAdapter):
    name = "threads"
    display_name = "Threads"
    limits = Limits(
        max_length=500,
        counting="counted in characters, each emoji as its UTF-8 bytes (👍 counts 4)",
        max_media=20,
        media_types=("image/jpeg", "image/png"),
        max_media_bytes=8 * 1024 * 1024,
        text_required=False,
        capabilities=frozenset(
            {
                PUBLISH_TEXT,
                PUBLISH_MEDIA,
                THREADS,
                REPLIES,
                FETCH_MENTIONS,
                FETCH_METRICS,
                REFRESH,
                LOOKUP,
            }
        ),
    )
    status_field = "status"
    detail_field = "error_message"

    def count(self, text: str) -> int:
        return threads_length(text)

    def _api(self, account: Account, base_url: str = BASE_URL) -> GraphApi:
        return GraphApi(self.http, base_url, account.credentials["access_token"], self.display_name)

    # publishing -----------------------------------------------------------------------
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        api = self._api(account)
        user = account.settings.get("threads_user_id", "me")
        first = self._publish_one(api, user, post.text, post.media, post.reply_to)
        part_ids = [first]
        for part in post.thread:
            part_ids.append(self._publish_one(api, user, part, (), part_ids[-1]))
        return PublishResult(first, url=self._permalink(api, first), part_ids=tuple(part_ids))

    def _publish_one(
        self, api: GraphApi, user: str, text: str, media: tuple[Media, ...], reply_to: str | None
    ) -> str:
        if len(media) > 1:
            children = [
                api.post(
                    f"{user}/threads",
                    {
                        "media_type": "IMAGE",
                        "image_url": item.url,
                        "is_carousel_item": True,
                        "alt_text": item.alt_text or None,
                    },
                )["id"]
                for item in media
            ]
            for child in children:
                self._wait_until_finished(api, child)
            fields: dict[str, Any] = {"media_type": "CAROUSEL", "children": ",".join(children)}
        elif media:
            fields = {
                "media_type": "IMAGE",
                "image_url": media[0].url,
                "alt_text": media[0].alt_text or None,
            }
        else:
            fields = {"media_type": "TEXT"}
        fields.update({"text": text or None, "reply_to_id": reply_to})
        container = api.post(f"{user}/threads", fields)["id"]
        self._wait_until_finished(api, container)
        return str(api.post(f"{user}/threads_publish", {"creation_id": container})["id"])

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        api = self._api(account)
        user = account.settings.get("threads_user_id", "me")
        edge = "replies" if post.reply_to else "threads"
        recent = api.get(f"{user}/{edge}", {"fields": "id,text,permalink", "limit": 25})
        return same_text(recent.get("data", []), "text", post.text)

    # reading --------------------------------------------------------------------------
    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        api = self._api(account)
        user = account.settings.get("threads_user_id", "me")
        limit = int(account.settings.get("mention_posts", 10))
        recent = api.get(f"{user}/threads", {"fields": "id", "limit": limit})
        mark = HighWaterMark.parse(cursor)
        mentions: list[IncomingMention] = []
        for entry in recent.get("data", []):
            conversation = api.get(f"{entry['id']}/conversation", {"fields": REPLY_FIELDS})
            for reply in conversation.get("data", []):
                if reply.get("username") == account.handle:
                    continue
                mention = IncomingMention(
                    external_id=reply["id"],
                    author=reply.get("username", ""),
                    text=reply.get("text", ""),
                    created_at=parse_time(reply.get("timestamp")) or datetime.now(UTC),
                    url=reply.get("permalink", ""),
                    in_reply_to=(reply.get("replied_to") or {}).get("id") or entry["id"],
                )
                if mark.admits(mention.external_id, mention.created_at):
                    mentions.append(mention)
        return mark.page(mentions, cursor)

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        api = self._api(account)
        metrics = []
        for external_id in external_ids:
            insights = api.get(
                f"{external_id}/insights", {"metric": "views,likes,replies,reposts,quotes"}
            )
            values = {item.get("name"): _insight_value(item) for item in insights.get("data", [])}
            metrics.append(
                PostMetrics(
                    external_id=external_id,
                    likes=values.get("likes", 0),
                    replies=values.get("replies", 0),
                    reposts=values.get("reposts", 0),
                    quotes=values.get("quotes", 0),
                    impressions=values.get("views"),
                )
            )
        return metrics

    def refresh(self, account: Account) -> dict[str, Any]:
        return self._refresh_token(account, "https://graph.threads.net", "th_refresh_token")


def _insight_value(item: dict[str, Any]) -> int:
    if isinstance(item.get("total_value"), dict):
        return int(item["total_value"].get("value", 0))
    values = item.get("values") or [{}]
    return int(values[0].get("value", 0))


@hookimpl
def register_networks(register):  # type: ignore[no-untyped-def]
    register(ThreadsAdapter)
