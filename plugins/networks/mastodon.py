"""Mastodon: statuses, media, replies and threads on any instance, through its REST API.

Account settings: {"instance": "https://mastodon.social"}; credentials: {"access_token": ...}.
The instance's own limits (`GET /api/v2/instance`) replace the defaults when validating for
an account, cached per instance for an hour. Tokens do not expire, so there is no refresh.
A status is created with an `Idempotency-Key` (kept by the server for an hour: a repeat returns
the original status), and after a crash `find_published` looks among the account's latest
statuses for the same text.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    IDEMPOTENCY,
    LOOKUP,
    OAUTH,
    PUBLISH_MEDIA,
    PUBLISH_TEXT,
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
    RetryLater,
    ValidationProblem,
)
from plugins.networks.counting import MASTODON_URL_LENGTH, mastodon_length
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
from plugins.networks.textrules import standard_problems

log = logging.getLogger(__name__)

INSTANCE_CACHE_SECONDS = 3600.0
MEDIA_POLL_ATTEMPTS = 30
MEDIA_POLL_INTERVAL = 1.0
SCOPES = "read:statuses read:notifications read:accounts write:statuses write:media"


@dataclass(frozen=True)
class InstanceRules:
    """The limits one instance announces; `count` uses its reserved URL length."""

    limits: Limits
    display_name: str
    url_length: int

    def count(self, text: str) -> int:
        return mastodon_length(text, self.url_length)

    def supports(self, capability: str) -> bool:
        return capability in self.limits.capabilities


class MastodonAdapter(NetworkAdapter):
    name = "mastodon"
    display_name = "Mastodon"
    limits = Limits(
        max_length=500,
        counting="counted in characters, with links as 23 and @user@domain as @user",
        max_media=4,
        media_types=(
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/webp",
            "image/heic",
            "image/heif",
            "image/avif",
        ),
        max_media_bytes=16 * 1024 * 1024,
        alt_text_max=1500,
        capabilities=frozenset(
            {
                PUBLISH_TEXT,
                PUBLISH_MEDIA,
                THREADS,
                REPLIES,
                FETCH_MENTIONS,
                FETCH_METRICS,
                OAUTH,
                IDEMPOTENCY,
                LOOKUP,
            }
        ),
    )

    def __init__(self, http: httpx.Client | None = None) -> None:
        super().__init__(http)
        self.sleep: Callable[[float], None] = time.sleep
        self._instances: dict[str, tuple[float, InstanceRules]] = {}

    # text rules -----------------------------------------------------------------------
    def count(self, text: str) -> int:
        return mastodon_length(text, MASTODON_URL_LENGTH)

    def validate(
        self, post: OutgoingPost, account: Account | None = None
    ) -> list[ValidationProblem]:
        if account is None or not account.settings.get("instance"):
            return standard_problems(self, post)
        return standard_problems(self.instance_rules(account), post)

    def instance_rules(self, account: Account) -> InstanceRules:
        """The instance's limits, read from `GET /api/v2/instance` (defaults if unreachable)."""
        base = instance_url(account)
        cached = self._instances.get(base)
        if cached is not None and time.monotonic() - cached[0] < INSTANCE_CACHE_SECONDS:
            return cached[1]
        try:
            response = self.http.get(f"{base}/api/v2/instance")
            response.raise_for_status()
            rules = self._rules_from(response.json().get("configuration") or {})
        except (httpx.HTTPError, ValueError) as error:
            log.warning(
                "Mastodon instance %s: limits unavailable (%s), using defaults", base, error
            )
            return InstanceRules(self.limits, self.display_name, MASTODON_URL_LENGTH)
        self._instances[base] = (time.monotonic(), rules)
        return rules

    def _rules_from(self, configuration: dict[str, Any]) -> InstanceRules:
        statuses = configuration.get("statuses") or {}
        media = configuration.get("media_attachments") or {}
        url_length = int(statuses.get("characters_reserved_per_url") or MASTODON_URL_LENGTH)
        image_types = tuple(
            t for t in media.get("supported_mime_types") or () if t.startswith("image/")
        )
        limits = replace(
            self.limits,
            max_length=int(statuses.get("max_characters") or self.limits.max_length),
            counting=f"counted in characters, with links as {url_length} and @user@domain as @user",
            max_media=int(statuses.get("max_media_attachments") or self.limits.max_media),
            media_types=image_types or self.limits.media_types,
            max_media_bytes=int(media.get("image_size_limit") or self.limits.max_media_bytes),
            alt_text_max=int(media.get("description_limit") or self.limits.alt_text_max or 1500),
        )
        return InstanceRules(limits, self.display_name, url_length)

    # publishing -----------------------------------------------------------------------
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        media_ids = [self._upload(media, account) for media in post.media]
        first = self._create_status(
            account, post.text, post.reply_to, post.idempotency_key, post.language, media_ids
        )
        ids = [first["id"]]
        for index, part in enumerate(post.thread, start=1):
            key = f"{post.idempotency_key}:{index}" if post.idempotency_key else ""
            status = self._create_status(account, part, ids[-1], key, post.language, [])
            ids.append(status["id"])
        return PublishResult(
            external_id=first["id"], url=first.get("url") or "", part_ids=tuple(ids)
        )

    def _create_status(
        self,
        account: Account,
        text: str,
        reply_to: str | None,
        idempotency_key: str,
        language: str | None,
        media_ids: list[str],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": text}
        if media_ids:
            body["media_ids"] = media_ids
        if reply_to:
            body["in_reply_to_id"] = reply_to
        if language:
            body["language"] = language
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self._call("POST", account, "/api/v1/statuses", json=body, headers=headers)
        return dict(response.json())

    def _upload(self, media: Media, account: Account) -> str:
        content = media_bytes(self.http, media)
        files = {"file": ("upload", content, media.mime_type)}
        data = {"description": media.alt_text} if media.alt_text else {}
        response = self._call("POST", account, "/api/v2/media", files=files, data=data)
        attachment = response.json()
        media_id = str(attachment["id"])
        if response.status_code == 202 or not attachment.get("url"):
            self._wait_for_media(account, media_id)
        return media_id

    def _wait_for_media(self, account: Account, media_id: str) -> None:
        """Mastodon processes large media after answering 202; poll until 200 (206 = not yet)."""
        for _ in range(MEDIA_POLL_ATTEMPTS):
            self.sleep(MEDIA_POLL_INTERVAL)
            response = self._call("GET", account, f"/api/v1/media/{media_id}")
            if response.status_code == 200 and response.json().get("url"):
                return
        raise RetryLater(f"Mastodon is still processing media {media_id}", MEDIA_POLL_INTERVAL * 10)

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        """Look among the account's 40 latest statuses for one with the same text and target."""
        me = self._call("GET", account, "/api/v1/accounts/verify_credentials").json()
        statuses = self._call(
            "GET",
            account,
            f"/api/v1/accounts/{me['id']}/statuses",
            params={"limit": 40, "exclude_reblogs": "true"},
        ).json()
        wanted = _comparable(post.text)
        for status in statuses:
            same_target = (status.get("in_reply_to_id") or None) == (post.reply_to or None)
            if same_target and _comparable(status_text(status.get("content", ""))) == wanted:
                return PublishResult(status["id"], status.get("url") or "", (status["id"],))
        return None

    # reading --------------------------------------------------------------------------
    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        """Mentions newer than `cursor` (a notification id), oldest page first.

        `min_id` pages forward from the cursor without gaps, where `since_id` would return
        only the newest page and skip mentions when more than a page arrived between polls.
        """
        params: list[tuple[str, str | int]] = [("types[]", "mention"), ("limit", 40)]
        if cursor:
            params.append(("min_id", cursor))
        notifications = self._call("GET", account, "/api/v1/notifications", params=params).json()
        mentions = tuple(
            _mention(item)
            for item in notifications
            if item.get("type") == "mention" and item.get("status")
        )
        newest = max((str(item["id"]) for item in notifications), key=_id_order, default=cursor)
        return MentionPage(mentions=mentions, cursor=newest)

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        metrics = []
        for external_id in external_ids:
            try:
                status = self._call("GET", account, f"/api/v1/statuses/{external_id}").json()
            except Rejected:  # deleted since: nothing to measure
                continue
            metrics.append(
                PostMetrics(
                    external_id=external_id,
                    likes=int(status.get("favourites_count") or 0),
                    reposts=int(status.get("reblogs_count") or 0),
                    replies=int(status.get("replies_count") or 0),
                    quotes=int(status.get("quotes_count") or 0),
                    impressions=None,
                )
            )
        return metrics

    # OAuth ----------------------------------------------------------------------------
    def register_app(
        self, instance: str, redirect_uri: str, client_name: str = "Tamtam"
    ) -> dict[str, Any]:
        """`POST /api/v1/apps`: the client_id and client_secret to use on this instance."""
        base = normalize_instance(instance)
        response = self._send(
            "POST",
            f"{base}/api/v1/apps",
            data={"client_name": client_name, "redirect_uris": redirect_uri, "scopes": SCOPES},
        )
        return dict(response.json())

    def authorization_url(
        self, instance: str, client_id: str, redirect_uri: str, state: str
    ) -> tuple[str, str]:
        """The URL to send the person to, and the PKCE verifier to keep for `exchange_code`."""
        return authorization_url(
            f"{normalize_instance(instance)}/oauth/authorize",
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=SCOPES,
            state=state,
        )

    def exchange_code(
        self,
        instance: str,
        client_id: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        verifier: str,
    ) -> dict[str, Any]:
        """Credentials for the account: {"access_token": ...}."""
        response = self._send(
            "POST",
            f"{normalize_instance(instance)}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
                "scope": SCOPES,
            },
        )
        return {"access_token": response.json()["access_token"]}

    # HTTP edge ------------------------------------------------------------------------
    def _call(self, method: str, account: Account, path: str, **kwargs: Any) -> httpx.Response:
        token = account.credentials.get("access_token")
        if not token:
            raise AuthExpired("Mastodon: the account has no access token")
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self._send(method, f"{instance_url(account)}{path}", headers=headers, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = send(
            self.http, method, url, network="Mastodon", reasons=IN_TIME_REASONS, **kwargs
        )
        if response.status_code < 400:
            return response
        raise rest_error("Mastodon", response, error_message(response), wait_seconds)


def normalize_instance(instance: str) -> str:
    instance = instance.strip().rstrip("/")
    return instance if instance.startswith(("http://", "https://")) else f"https://{instance}"


def instance_url(account: Account) -> str:
    instance = account.settings.get("instance")
    if not instance:
        raise Rejected("Mastodon: the account has no instance configured")
    return normalize_instance(str(instance))


def wait_seconds(response: httpx.Response) -> float | None:
    """How long the server asked us to wait: Retry-After, else X-RateLimit-Reset (a time)."""
    wait = retry_after(response.headers)
    if wait is not None:
        return wait
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            return max(0.0, moment.timestamp() - time.time())
        except ValueError:
            return None
    return None


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def status_text(content: str) -> str:
    """Plain text of a status's HTML (Mastodon splits links into invisible spans)."""
    text = _PARAGRAPH.sub("\n\n", content)
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text)).strip()


_MENTION_DOMAIN = re.compile(r"(?<![\w/])(@[\w.-]+)@[\w.-]+\w")


def _comparable(text: str) -> str:
    """Text as Mastodon renders it (mentions lose their domain), whitespace collapsed."""
    return " ".join(_MENTION_DOMAIN.sub(r"\1", text).split())


def _id_order(value: str) -> tuple[int, str]:
    return (len(value), value)  # Mastodon ids are numeric strings (snowflakes)


def _mention(notification: dict[str, Any]) -> IncomingMention:
    status = notification["status"]
    return IncomingMention(
        external_id=str(status["id"]),
        author=str(notification.get("account", {}).get("acct") or status["account"]["acct"]),
        text=status_text(status.get("content") or ""),
        created_at=datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00")),
        url=status.get("url") or "",
        in_reply_to=status.get("in_reply_to_id"),
    )


@hookimpl
def register_networks(register: Callable[[type], None]) -> None:
    register(MastodonAdapter)
