"""The `sandbox` network: Tamtam's embedded local test network (no account, no key).

A real adapter behind the same hooks as the others: it talks over HTTP to the sandbox
server the api service mounts at `/sandbox/api` (see `services/api/sandbox.py`), which
stores what is published and simulates mentions, engagement and failures. An account may
point elsewhere with `settings["base_url"]` (tests start their own server).

Text is counted in Unicode code points, not graphemes: an emoji made of several code points
(a flag, a family) counts for each of them, as the server counts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    IDEMPOTENCY,
    LOOKUP,
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
)
from plugins.networks.edge import retry_after, send
from plugins.networks.hookspecs import hookimpl

DEFAULT_BASE_URL = "http://127.0.0.1:8000/sandbox/api"
METRICS_BATCH = 100
REASONS = ("{network} did not answer in time ({error})", "{network} is unreachable ({error})")


@hookimpl
def register_networks(register: Callable[[type], None]) -> None:
    register(SandboxAdapter)


class SandboxAdapter(NetworkAdapter):
    name = "sandbox"
    display_name = "Sandbox (local test network)"
    limits = Limits(
        max_length=500,
        counting="counted in Unicode code points (an emoji made of several counts for each)",
        max_media=4,
        media_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
        alt_text_max=1500,
        capabilities=frozenset({PUBLISH_TEXT, PUBLISH_MEDIA, THREADS, REPLIES, FETCH_MENTIONS,
                                FETCH_METRICS, IDEMPOTENCY, LOOKUP}),
    )

    def count(self, text: str) -> int:
        return len(text)

    # publishing -----------------------------------------------------------------------

    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        """Each part is its own post; a thread's parts reply to the previous one."""
        part_ids: list[str] = []
        first_url = ""
        reply_to = post.reply_to
        for index, text in enumerate(self._parts(post)):
            body = {
                "text": text,
                "media": [_media_body(m) for m in post.media] if index == 0 else [],
                "reply_to": reply_to,
                "language": post.language,
                "timezone": account.settings.get("timezone"),
            }
            headers = {"Idempotency-Key": _part_key(post, index)} if post.idempotency_key else {}
            published = self._call("POST", self._posts_url(account), account,
                                   json=body, headers=headers)
            part_ids.append(published["external_id"])
            first_url = first_url or published.get("url", "")
            reply_to = published["external_id"]
        return PublishResult(external_id=part_ids[0], url=first_url, part_ids=tuple(part_ids))

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        """The post if every part is already on the network; else None, and publishing
        again is safe, since each part's idempotency key makes the network skip it."""
        if not post.idempotency_key:
            return None
        found: list[dict[str, Any]] = []
        for index, _ in enumerate(self._parts(post)):
            page = self._call("GET", self._posts_url(account), account,
                              params={"idempotency_key": _part_key(post, index), "limit": 1})
            if not page["items"]:
                return None
            found.append(page["items"][0])
        return PublishResult(external_id=found[0]["external_id"], url=found[0].get("url", ""),
                             part_ids=tuple(item["external_id"] for item in found))

    # reading --------------------------------------------------------------------------

    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        params = {"cursor": cursor} if cursor else {}
        page = self._call("GET", f"{self._account_url(account)}/mentions", account, params=params)
        return MentionPage(
            mentions=tuple(
                IncomingMention(
                    external_id=item["external_id"], author=item["author"], text=item["text"],
                    created_at=datetime.fromisoformat(item["created_at"]), url=item.get("url", ""),
                    in_reply_to=item.get("in_reply_to"),
                )
                for item in page["items"]
            ),
            cursor=page.get("next_cursor"),
        )

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        metrics: list[PostMetrics] = []
        for start in range(0, len(external_ids), METRICS_BATCH):
            batch = external_ids[start:start + METRICS_BATCH]
            page = self._call("GET", f"{self._account_url(account)}/metrics", account,
                              params={"ids": ",".join(batch)})
            metrics.extend(
                PostMetrics(
                    external_id=item["external_id"], likes=item["likes"], reposts=item["reposts"],
                    replies=item["replies"], quotes=item["quotes"], impressions=item["impressions"],
                )
                for item in page["items"]
            )
        return metrics

    # HTTP, and the translation of the network's errors ---------------------------------

    def _parts(self, post: OutgoingPost) -> tuple[str, ...]:
        return (post.text, *post.thread)

    def _account_url(self, account: Account) -> str:
        base = str(account.settings.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        return f"{base}/accounts/{quote(account.handle, safe='')}"

    def _posts_url(self, account: Account) -> str:
        return f"{self._account_url(account)}/posts"

    def _call(self, method: str, url: str, account: Account, **options: Any) -> dict[str, Any]:
        token = account.credentials.get("access_token")
        if token:
            options["headers"] = {**options.get("headers", {}), "Authorization": f"Bearer {token}"}
        response = send(self.http, method, url, network=self.display_name, reasons=REASONS,
                        **options)
        if response.status_code < 400:
            try:
                return response.json()  # type: ignore[no-any-return]
            except ValueError as error:
                raise RetryLater(f"{self.display_name} sent an unreadable answer") from error
        reason = _problem_detail(response)
        wait = retry_after(response.headers)
        if response.status_code == 429:
            raise RetryLater(f"rate limited: {reason}", after=wait)
        if response.status_code >= 500:
            raise RetryLater(f"{response.status_code}: {reason}", after=wait)
        if response.status_code == 401:
            raise AuthExpired(reason)
        raise Rejected(reason)


def _part_key(post: OutgoingPost, index: int) -> str:
    return f"{post.idempotency_key}:{index}"


def _media_body(media: Media) -> dict[str, Any]:
    size = media.size_bytes if media.size_bytes is not None else (
        len(media.content) if media.content is not None else None)
    return {"mime_type": media.mime_type, "alt_text": media.alt_text, "url": media.url,
            "size_bytes": size}


def _problem_detail(response: httpx.Response) -> str:
    """The problem detail's `detail` (RFC 9457), else its title, else the raw text."""
    try:
        problem = response.json()
    except ValueError:
        return response.text.strip()[:300] or f"HTTP {response.status_code}"
    if isinstance(problem, dict):
        return str(problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}")
    return f"HTTP {response.status_code}"

