"""Instagram professional accounts through the Graph API (content publishing).

Account: `credentials["access_token"]`; `settings["ig_user_id"]`; `settings["graph_host"]`
`graph.facebook.com` (Facebook Login, the default) or `graph.instagram.com` (Instagram
Login); `settings["graph_version"]` (default `v25.0`).

- Image: `POST /{ig-user-id}/media` (`image_url`, `caption`, `alt_text`) -> container; poll
  `GET /{container}?fields=status_code` until FINISHED (ERROR/EXPIRED -> `Rejected`); then
  `POST /{ig-user-id}/media_publish` (`creation_id`). Media must be at a public URL.
- Carousel (2-10): children with `is_carousel_item=true`, then `media_type=CAROUSEL`,
  `children=id,id…` and the caption; each container polled, then published once.
- Reply: `POST /{comment-id}/replies`; when the id is a media (Graph code 100), a top-level
  comment `POST /{media-id}/comments`.
- Mentions: comments and their replies on the latest media (one call, field expansion);
  cursor = high-water mark of comment times.
- Metrics: `like_count`, `comments_count` of each media; impressions left empty.
- Refresh (Instagram Login only): `GET graph.instagram.com/refresh_access_token
  ?grant_type=ig_refresh_token` -> `{access_token, token_type, expires_in}`.
- No text-only posts, no threads.

Confirmed in official docs (developers.facebook.com/docs/instagram-platform): the container /
status_code / media_publish flow, `alt_text` (since 2025-03-24), carousels, and
`refresh_access_token` with `ig_refresh_token` (token at least 24 h old, valid 60 days after).
Documented-unconfirmed ([3p], consistent across sources): caption 2,200 characters (counted
here in UTF-16 code units, an emoji counts 2), 30 hashtags, carousel of at most 10, JPEG only,
8 MB, error code 9 when the 24 h publishing quota is spent (mapped to `RetryLater`).
Instagram announced in Dec 2025 that posts will carry at most 5 hashtags; the API limit kept
here is 30, and `counting` says to keep to 5.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    LOOKUP,
    PUBLISH_MEDIA,
    REFRESH,
    REPLIES,
    Account,
    AuthExpired,
    IncomingMention,
    Limits,
    MentionPage,
    OutgoingPost,
    PostMetrics,
    PublishResult,
    Rejected,
    ValidationProblem,
)
from plugins.networks.edge import utf16_length
from plugins.networks.graph import (
    INVALID_PARAMETER,
    ContainerAdapter,
    GraphApi,
    GraphRejected,
    HighWaterMark,
    parse_time,
    same_text,
)
from plugins.networks.hookspecs import hookimpl
from plugins.networks.textrules import standard_problems

DEFAULT_GRAPH_VERSION = "v25.0"
COMMENT_FIELDS = "id,text,timestamp,username,parent_id"


class InstagramAdapter(ContainerAdapter):
    name = "instagram"
    display_name = "Instagram"
    limits = Limits(
        max_length=2200,
        counting=(
            "counted in UTF-16 code units (an emoji counts 2); at most 30 hashtags, "
            "and Instagram now advises 5 at most"
        ),
        max_media=10,
        media_types=("image/jpeg",),
        max_media_bytes=8 * 1024 * 1024,
        max_hashtags=30,
        text_required=False,
        capabilities=frozenset(
            {PUBLISH_MEDIA, REPLIES, FETCH_MENTIONS, FETCH_METRICS, REFRESH, LOOKUP}
        ),
    )
    status_field = "status_code"
    detail_field = "status"

    def count(self, text: str) -> int:
        return utf16_length(text)

    def validate(
        self, post: OutgoingPost, account: Account | None = None
    ) -> list[ValidationProblem]:
        problems = standard_problems(self, post)
        if post.reply_to:
            return problems  # a reply is a comment: text only
        if not post.media:
            problems.append(
                ValidationProblem(
                    "media_required", "Instagram: a post needs at least one image", "media"
                )
            )
        for index, media in enumerate(post.media):
            if not media.url:
                problems.append(
                    ValidationProblem(
                        "media_url_required",
                        "Instagram fetches images itself: each needs a public URL",
                        f"media[{index}]",
                    )
                )
        return problems

    def _base_url(self, account: Account) -> str:
        host = account.settings.get("graph_host", "graph.facebook.com")
        version = account.settings.get("graph_version", DEFAULT_GRAPH_VERSION)
        return f"https://{host}/{version}"

    def _api(self, account: Account) -> GraphApi:
        return GraphApi(
            self.http,
            self._base_url(account),
            account.credentials["access_token"],
            self.display_name,
        )

    # publishing -----------------------------------------------------------------------
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        api = self._api(account)
        if post.reply_to:
            return self._reply(api, post)
        if not post.media:
            raise Rejected("Instagram: a post needs at least one image")
        user_id = account.settings["ig_user_id"]
        if len(post.media) == 1:
            media = post.media[0]
            container = api.post(
                f"{user_id}/media",
                {
                    "image_url": media.url,
                    "caption": post.text or None,
                    "alt_text": media.alt_text or None,
                },
            )["id"]
        else:
            children = [
                api.post(
                    f"{user_id}/media",
                    {
                        "image_url": media.url,
                        "is_carousel_item": True,
                        "alt_text": media.alt_text or None,
                    },
                )["id"]
                for media in post.media
            ]
            for child in children:
                self._wait_until_finished(api, child)
            container = api.post(
                f"{user_id}/media",
                {
                    "media_type": "CAROUSEL",
                    "children": ",".join(children),
                    "caption": post.text or None,
                },
            )["id"]
        self._wait_until_finished(api, container)
        media_id = api.post(f"{user_id}/media_publish", {"creation_id": container})["id"]
        return PublishResult(media_id, url=self._permalink(api, media_id), part_ids=(media_id,))

    def _reply(self, api: GraphApi, post: OutgoingPost) -> PublishResult:
        try:
            answer = api.post(f"{post.reply_to}/replies", {"message": post.text})
        except GraphRejected as error:
            if error.code != INVALID_PARAMETER:
                raise
            answer = api.post(f"{post.reply_to}/comments", {"message": post.text})
        return PublishResult(answer["id"], part_ids=(answer["id"],))

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        if post.reply_to:
            return None
        api = self._api(account)
        recent = api.get(
            f"{account.settings['ig_user_id']}/media",
            {"fields": "id,caption,permalink", "limit": 10},
        )
        return same_text(recent.get("data", []), "caption", post.text)

    # reading --------------------------------------------------------------------------
    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        api = self._api(account)
        limit = int(account.settings.get("mention_posts", 25))
        recent = api.get(
            f"{account.settings['ig_user_id']}/media",
            {
                "fields": f"id,comments.limit(50){{{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}}}",
                "limit": limit,
            },
        )
        mark = HighWaterMark.parse(cursor)
        mentions: list[IncomingMention] = []
        for media in recent.get("data", []):
            for comment in media.get("comments", {}).get("data", []):
                for entry in (comment, *comment.get("replies", {}).get("data", [])):
                    mention = _mention(entry, media["id"])
                    if entry.get("username") == account.handle:
                        continue
                    if mark.admits(mention.external_id, mention.created_at):
                        mentions.append(mention)
        return mark.page(mentions, cursor)

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        api = self._api(account)
        metrics = []
        for external_id in external_ids:
            media = api.get(external_id, {"fields": "like_count,comments_count"})
            metrics.append(
                PostMetrics(
                    external_id=external_id,
                    likes=int(media.get("like_count", 0)),
                    replies=int(media.get("comments_count", 0)),
                )
            )
        return metrics

    def refresh(self, account: Account) -> dict[str, Any]:
        if account.settings.get("graph_host", "graph.facebook.com") != "graph.instagram.com":
            raise AuthExpired("Instagram: tokens from Facebook Login have no refresh; reconnect")
        return self._refresh_token(account, "https://graph.instagram.com", "ig_refresh_token")


def _mention(entry: dict[str, Any], media_id: str) -> IncomingMention:
    return IncomingMention(
        external_id=entry["id"],
        author=entry.get("username", ""),
        text=entry.get("text", ""),
        created_at=parse_time(entry.get("timestamp")) or datetime.now(UTC),
        in_reply_to=entry.get("parent_id") or media_id,
    )


@hookimpl
def register_networks(register):  # type: ignore[no-untyped-def]
    register(InstagramAdapter)
