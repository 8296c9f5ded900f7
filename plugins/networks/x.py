"""X (API v2): posts, images with alt text, replies and threads, mentions and public metrics.

Credentials: an OAuth 2.0 user token {"access_token", "refresh_token"?}; settings may carry
{"client_id", "user_id"} (the user id is looked up with `/2/users/me` when absent) and
credentials a "client_secret" for confidential clients. Access tokens last two hours; they
are refreshed with the refresh token (scope `offline.access`).

X has no idempotency key and no way to find a post by one, so `find_published` is absent.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    OAUTH,
    PUBLISH_MEDIA,
    PUBLISH_TEXT,
    REFRESH,
    REPLIES,
    THREADS,
    Account,
    AuthExpired,
    IncomingMention,
    Limits,
    Media,
    MentionPage,
    NetworkAdapter,
    OutgoingPost,
    PostMetrics,
    PublishResult,
    Rejected,
)
from plugins.networks.counting import x_weighted_length
from plugins.networks.edge import (
    IN_TIME_REASONS,
    error_message,
    media_bytes,
    rest_error,
    retry_after,
    send,
)
from plugins.networks.hookspecs import hookimpl
from plugins.networks.oauth import authorization_url

API = "https://api.x.com"
AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
SCOPES = "tweet.read tweet.write users.read media.write offline.access"
MENTION_PAGES = 5


class XAdapter(NetworkAdapter):
    name = "x"
    display_name = "X"
    limits = Limits(
        max_length=280,
        counting="counted with links as 23, emoji and CJK characters as 2",
        max_media=4,
        media_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
        max_media_bytes=5 * 1024 * 1024,
        alt_text_max=1000,
        capabilities=frozenset(
            {
                PUBLISH_TEXT,
                PUBLISH_MEDIA,
                THREADS,
                REPLIES,
                FETCH_MENTIONS,
                FETCH_METRICS,
                OAUTH,
                REFRESH,
            }
        ),
    )

    def count(self, text: str) -> int:
        return x_weighted_length(text)

    # publishing -----------------------------------------------------------------------
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        media_ids = [self._upload(media, account) for media in post.media]
        first = self._create_post(account, post.text, post.reply_to, media_ids)
        ids = [first]
        for part in post.thread:
            ids.append(self._create_post(account, part, ids[-1], []))
        username = account.handle.lstrip("@") or "i"
        return PublishResult(
            external_id=first, url=f"https://x.com/{username}/status/{first}", part_ids=tuple(ids)
        )

    def _create_post(
        self, account: Account, text: str, reply_to: str | None, media_ids: list[str]
    ) -> str:
        body: dict[str, Any] = {"text": text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        return str(self._call("POST", account, "/2/tweets", json=body).json()["data"]["id"])

    def _upload(self, media: Media, account: Account) -> str:
        content = media_bytes(self.http, media, network="X")
        category = "tweet_gif" if media.mime_type == "image/gif" else "tweet_image"
        response = self._call(
            "POST",
            account,
            "/2/media/upload",
            files={"media": ("upload", content, media.mime_type)},
            data={"media_category": category, "media_type": media.mime_type},
        )
        media_id = str(response.json()["data"]["id"])
        if media.alt_text:
            self._call(
                "POST",
                account,
                "/2/media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": media.alt_text}}},
            )
        return media_id

    # reading --------------------------------------------------------------------------
    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        """Mentions newer than `cursor` (the newest post id seen); every page since, when
        there is a cursor, else only the latest page."""
        user_id = self._user_id(account)
        mentions: list[IncomingMention] = []
        newest = cursor
        token: str | None = None
        for _ in range(MENTION_PAGES):
            params: dict[str, Any] = {
                "max_results": 100,
                "tweet.fields": "created_at,author_id,conversation_id,referenced_tweets",
                "expansions": "author_id",
                "user.fields": "username",
            }
            if cursor:
                params["since_id"] = cursor
            if token:
                params["pagination_token"] = token
            page = self._call("GET", account, f"/2/users/{user_id}/mentions", params=params).json()
            users = {u["id"]: u["username"] for u in page.get("includes", {}).get("users", [])}
            mentions.extend(_mention(post, users) for post in page.get("data", []))
            meta = page.get("meta", {})
            if meta.get("newest_id") and (newest is None or _newer(meta["newest_id"], newest)):
                newest = meta["newest_id"]
            token = meta.get("next_token")
            if not token or cursor is None:
                break
        return MentionPage(mentions=tuple(mentions), cursor=newest)

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        metrics = []
        for start in range(0, len(external_ids), 100):
            ids = external_ids[start : start + 100]
            page = self._call(
                "GET",
                account,
                "/2/tweets",
                params={"ids": ",".join(ids), "tweet.fields": "public_metrics"},
            ).json()
            for post in page.get("data", []):
                public = post.get("public_metrics", {})
                metrics.append(
                    PostMetrics(
                        external_id=str(post["id"]),
                        likes=int(public.get("like_count", 0)),
                        reposts=int(public.get("retweet_count", 0)),
                        replies=int(public.get("reply_count", 0)),
                        quotes=int(public.get("quote_count", 0)),
                        impressions=public.get("impression_count"),
                    )
                )
        return metrics

    def _user_id(self, account: Account) -> str:
        user_id = account.settings.get("user_id")
        if not user_id:
            user_id = self._call("GET", account, "/2/users/me").json()["data"]["id"]
            account.settings["user_id"] = user_id
        return str(user_id)

    # OAuth ----------------------------------------------------------------------------
    def authorization_url(self, client_id: str, redirect_uri: str, state: str) -> tuple[str, str]:
        """The URL to send the person to, and the PKCE verifier to keep for `exchange_code`."""
        return authorization_url(
            AUTHORIZE_URL, client_id=client_id, redirect_uri=redirect_uri, scope=SCOPES, state=state
        )

    def exchange_code(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        verifier: str,
        client_secret: str | None = None,
    ) -> dict[str, Any]:
        return self._token_request(
            client_id,
            client_secret,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )

    def refresh(self, account: Account) -> dict[str, Any]:
        """A new access token (and the rotated refresh token) from the refresh token."""
        refresh_token = account.credentials.get("refresh_token")
        client_id = account.settings.get("client_id") or account.credentials.get("client_id")
        if not refresh_token or not client_id:
            raise AuthExpired("X: no refresh token (connect again with offline.access)")
        fresh = self._token_request(
            str(client_id),
            account.credentials.get("client_secret"),
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
        )
        return {**account.credentials, **fresh}

    def _token_request(
        self, client_id: str, client_secret: str | None, form: dict[str, str]
    ) -> dict[str, Any]:
        headers = {}
        if client_secret:  # confidential client: HTTP Basic
            pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        try:
            response = self._send(
                "POST",
                f"{API}/2/oauth2/token",
                data={**form, "client_id": client_id},
                headers=headers,
            )
        except Rejected as error:  # 400 invalid_grant: the refresh token is spent or revoked
            raise AuthExpired(f"X: {error.reason}") from error
        token = response.json()
        credentials: dict[str, Any] = {"access_token": token["access_token"]}
        if token.get("refresh_token"):
            credentials["refresh_token"] = token["refresh_token"]
        if token.get("expires_in"):
            credentials["expires_at"] = int(time.time()) + int(token["expires_in"])
        return credentials

    # HTTP edge ------------------------------------------------------------------------
    def _call(self, method: str, account: Account, path: str, **kwargs: Any) -> httpx.Response:
        token = account.credentials.get("access_token")
        if not token:
            raise AuthExpired("X: the account has no access token")
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self._send(method, f"{API}{path}", headers=headers, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = send(self.http, method, url, network="X", reasons=IN_TIME_REASONS, **kwargs)
        if response.status_code < 400:
            return response
        raise rest_error("X", response, error_message(response, _describe_error), wait_seconds)


def wait_seconds(response: httpx.Response) -> float | None:
    """Retry-After, else x-rate-limit-reset (epoch seconds)."""
    wait = retry_after(response.headers)
    if wait is not None:
        return wait
    reset = response.headers.get("x-rate-limit-reset", "").strip()
    if reset.isdigit():
        return max(0.0, float(reset) - time.time())
    return None


def _describe_error(body: dict[str, Any]) -> str | None:
    """X's own error shapes: a problem `detail`/`title`, else the first of `errors`."""
    if body.get("detail") or body.get("title"):
        return str(body.get("detail") or body.get("title"))
    if body.get("errors"):
        first = body["errors"][0]
        return str(first.get("message") or first.get("detail") or first)
    return None


def _newer(candidate: str, current: str) -> bool:
    return (len(candidate), candidate) > (len(current), current)


def _mention(post: dict[str, Any], users: dict[str, str]) -> IncomingMention:
    replied = [
        ref["id"] for ref in post.get("referenced_tweets", []) if ref.get("type") == "replied_to"
    ]
    author = users.get(post.get("author_id", ""), post.get("author_id", ""))
    return IncomingMention(
        external_id=str(post["id"]),
        author=str(author),
        text=str(post.get("text", "")),
        created_at=datetime.fromisoformat(str(post["created_at"]).replace("Z", "+00:00")),
        url=f"https://x.com/{author or 'i'}/status/{post['id']}",
        in_reply_to=replied[0] if replied else None,
    )


@hookimpl
def register_networks(register: Callable[[type], None]) -> None:
    register(XAdapter)
