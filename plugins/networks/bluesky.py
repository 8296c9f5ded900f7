"""Bluesky (AT Protocol): posts, images, replies and threads through the account's PDS.

Account settings: {"service": "https://bsky.social"} (the PDS). Credentials: an app password
{"identifier", "password"} and/or a session {"accessJwt", "refreshJwt", "did"}. Sessions are
reused (createSession is limited to 30 per 5 minutes); an expired access token (400
`ExpiredToken`) is refreshed once with the refresh token, else by logging in again.

Bluesky has no idempotency header: each record gets a TID record key derived from the post's
idempotency key, so a repeated create cannot make a second post, and `find_published` reads
that record back with `com.atproto.repo.getRecord`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from plugins.networks.base import (
    FETCH_MENTIONS,
    FETCH_METRICS,
    IDEMPOTENCY,
    LOOKUP,
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
    RetryLater,
    ValidationProblem,
)
from plugins.networks.counting import grapheme_count, utf8_length
from plugins.networks.edge import IN_TIME_REASONS, media_bytes, retry_after, send
from plugins.networks.facets import build_facets
from plugins.networks.hookspecs import hookimpl
from plugins.networks.textrules import standard_problems

DEFAULT_SERVICE = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MENTION_REASONS = ("mention", "reply", "quote")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# Derived record keys take their timestamp in 2023-2024, so they never sort after new ones.
_TID_EPOCH_US = 1_672_531_200_000_000
_TID_SPAN_US = 2 * 365 * 24 * 3600 * 1_000_000
_AUTH_ERRORS = {"AuthenticationRequired", "InvalidToken", "AccountTakedown", "AccountDeactivated"}
_MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


class BlueskyAdapter(NetworkAdapter):
    name = "bluesky"
    display_name = "Bluesky"
    limits = Limits(
        max_length=MAX_GRAPHEMES,
        counting="counted in graphemes (what a reader sees as one character), links in full",
        max_media=4,
        media_types=("image/jpeg", "image/png", "image/webp", "image/gif"),
        max_media_bytes=1_000_000,
        alt_text_max=2000,
        capabilities=frozenset(
            {
                PUBLISH_TEXT,
                PUBLISH_MEDIA,
                THREADS,
                REPLIES,
                FETCH_MENTIONS,
                FETCH_METRICS,
                REFRESH,
                IDEMPOTENCY,
                LOOKUP,
            }
        ),
    )

    def __init__(self, http: httpx.Client | None = None) -> None:
        super().__init__(http)
        self._sessions: dict[str, dict[str, Any]] = {}

    # text rules -----------------------------------------------------------------------
    def count(self, text: str) -> int:
        return grapheme_count(text)

    def validate(
        self, post: OutgoingPost, account: Account | None = None
    ) -> list[ValidationProblem]:
        problems = standard_problems(self, post)
        for where, text in [("text", post.text)] + [
            (f"thread[{i}]", part) for i, part in enumerate(post.thread)
        ]:
            if utf8_length(text) > MAX_BYTES:
                problems.append(
                    ValidationProblem(
                        "too_long",
                        f"Bluesky: {utf8_length(text)} of {MAX_BYTES} bytes (UTF-8)",
                        where,
                    )
                )
        for index, media in enumerate(post.media):
            magic = _MAGIC.get(media.mime_type)
            if media.content is not None and magic and not media.content.startswith(magic):
                problems.append(
                    ValidationProblem(
                        "media_type",
                        f"Bluesky: the file is not a {media.mime_type}",
                        f"media[{index}]",
                    )
                )
        return problems

    # publishing -----------------------------------------------------------------------
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        images = [self._upload(media, account) for media in post.media]
        reply = self._reply_refs(account, post.reply_to) if post.reply_to else None
        first = self._create_post(
            account,
            post.text,
            post.idempotency_key,
            post.language,
            reply,
            _images_embed(post.media, images),
        )
        refs = [first]
        root = reply["root"] if reply else first
        for index, part in enumerate(post.thread, start=1):
            key = f"{post.idempotency_key}#{index}" if post.idempotency_key else ""
            refs.append(
                self._create_post(
                    account, part, key, post.language, {"root": root, "parent": refs[-1]}, None
                )
            )
        uris = tuple(ref["uri"] for ref in refs)
        return PublishResult(
            external_id=first["uri"], url=self._web_url(account, first["uri"]), part_ids=uris
        )

    def _create_post(
        self,
        account: Account,
        text: str,
        idempotency_key: str,
        language: str | None,
        reply: dict[str, Any] | None,
        embed: dict[str, Any] | None,
    ) -> dict[str, str]:
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": _now(),
        }
        facets = build_facets(text, lambda handle: self.resolve_handle(account, handle))
        if facets:
            record["facets"] = facets
        if language:
            record["langs"] = [language]
        if reply:
            record["reply"] = reply
        if embed:
            record["embed"] = embed
        session = self._session(account)
        rkey = record_key(idempotency_key) if idempotency_key else new_record_key()
        body = {
            "repo": session["did"],
            "collection": POST_COLLECTION,
            "rkey": rkey,
            "record": record,
        }
        try:
            created = self._xrpc("POST", account, "com.atproto.repo.createRecord", json=body).json()
        except (Rejected, RetryLater):
            # The reference PDS answers 500 when the rkey is taken: if our record is there,
            # this is a repeat of a create that went through, so it is the same post.
            existing = self._get_post(account, session["did"], rkey) if idempotency_key else None
            if existing is None:
                raise
            return existing
        return {"uri": created["uri"], "cid": created["cid"]}

    def _upload(self, media: Media, account: Account) -> dict[str, Any]:
        content = media_bytes(self.http, media, network="Bluesky")
        response = self._xrpc(
            "POST",
            account,
            "com.atproto.repo.uploadBlob",
            content=content,
            headers={"Content-Type": media.mime_type},
        )
        return dict(response.json()["blob"])

    def _reply_refs(self, account: Account, parent_uri: str) -> dict[str, Any]:
        repo, collection, rkey = split_uri(parent_uri)
        record = self._xrpc(
            "GET",
            account,
            "com.atproto.repo.getRecord",
            params={"repo": repo, "collection": collection, "rkey": rkey},
        ).json()
        parent = {"uri": record["uri"], "cid": record["cid"]}
        root = (record.get("value") or {}).get("reply", {}).get("root") or parent
        return {"root": root, "parent": parent}

    def _get_post(self, account: Account, did: str, rkey: str) -> dict[str, str] | None:
        try:
            record = self._xrpc(
                "GET",
                account,
                "com.atproto.repo.getRecord",
                params={"repo": did, "collection": POST_COLLECTION, "rkey": rkey},
            ).json()
        except Rejected:  # RecordNotFound
            return None
        return {"uri": record["uri"], "cid": record["cid"]}

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        if not post.idempotency_key:
            return None
        did = self._session(account)["did"]
        first = self._get_post(account, did, record_key(post.idempotency_key))
        if first is None:
            return None
        return PublishResult(first["uri"], self._web_url(account, first["uri"]), (first["uri"],))

    def resolve_handle(self, account: Account, handle: str) -> str | None:
        """The DID of `handle`, or None when it does not resolve (the mention stays text)."""
        try:
            response = self._xrpc(
                "GET",
                account,
                "com.atproto.identity.resolveHandle",
                params={"handle": handle},
                auth=False,
            )
        except Rejected:
            return None
        return str(response.json()["did"])

    # reading --------------------------------------------------------------------------
    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        """Mentions, replies and quotes indexed after `cursor` (an indexedAt time).

        listNotifications pages backwards from the newest, so read pages until one reaches
        what the previous call already returned (at most 10 pages of 100).
        """
        mentions: list[IncomingMention] = []
        newest = cursor
        page_cursor: str | None = None
        for _ in range(10):
            params: dict[str, Any] = {"limit": 100, "reasons": list(MENTION_REASONS)}
            if page_cursor:
                params["cursor"] = page_cursor
            page = self._xrpc(
                "GET", account, "app.bsky.notification.listNotifications", params=params
            ).json()
            reached_known = False
            for item in page.get("notifications", []):
                indexed_at = str(item.get("indexedAt") or "")
                if cursor and indexed_at <= cursor:
                    reached_known = True
                    break
                newest = max(newest or indexed_at, indexed_at)
                if item.get("reason") in MENTION_REASONS:
                    mentions.append(_mention(item))
            page_cursor = page.get("cursor")
            if reached_known or not page_cursor or cursor is None:
                break
        return MentionPage(mentions=tuple(mentions), cursor=newest)

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        metrics = []
        for start in range(0, len(external_ids), 25):
            uris = external_ids[start : start + 25]
            posts = (
                self._xrpc("GET", account, "app.bsky.feed.getPosts", params={"uris": uris})
                .json()
                .get("posts", [])
            )
            for post in posts:
                metrics.append(
                    PostMetrics(
                        external_id=post["uri"],
                        likes=int(post.get("likeCount") or 0),
                        reposts=int(post.get("repostCount") or 0),
                        replies=int(post.get("replyCount") or 0),
                        quotes=int(post.get("quoteCount") or 0),
                        impressions=None,
                    )
                )
        return metrics

    # sessions -------------------------------------------------------------------------
    def refresh(self, account: Account) -> dict[str, Any]:
        """New session credentials: refreshSession with the refresh token, else log in again."""
        refresh_jwt = account.credentials.get("refreshJwt")
        session = None
        if refresh_jwt:
            try:
                response = self._send(
                    "POST",
                    f"{service_url(account)}/xrpc/com.atproto.server.refreshSession",
                    headers={"Authorization": f"Bearer {refresh_jwt}"},
                )
                session = response.json()
            except AuthExpired:
                session = None
        if session is None:
            session = self._create_session(account)
        credentials = {**account.credentials, **_session_credentials(session)}
        account.credentials.update(credentials)
        self._sessions[account.id] = credentials
        return credentials

    def _create_session(self, account: Account) -> dict[str, Any]:
        identifier = account.credentials.get("identifier") or account.handle
        password = account.credentials.get("password")
        if not password:
            raise AuthExpired("Bluesky: the session expired and there is no app password to log in")
        response = self._send(
            "POST",
            f"{service_url(account)}/xrpc/com.atproto.server.createSession",
            json={"identifier": identifier, "password": password},
        )
        return dict(response.json())

    def _session(self, account: Account) -> dict[str, Any]:
        if account.id in self._sessions:
            return self._sessions[account.id]
        if account.credentials.get("accessJwt") and account.credentials.get("did"):
            session = dict(account.credentials)
        else:
            session = {**account.credentials, **_session_credentials(self._create_session(account))}
            account.credentials.update(session)
        self._sessions[account.id] = session
        return session

    # HTTP edge ------------------------------------------------------------------------
    def _xrpc(
        self, method: str, account: Account, nsid: str, auth: bool = True, **kwargs: Any
    ) -> httpx.Response:
        url = f"{service_url(account)}/xrpc/{nsid}"
        extra_headers = kwargs.pop("headers", {})
        for attempt in range(2):
            headers = dict(extra_headers)
            if auth:
                headers["Authorization"] = f"Bearer {self._session(account)['accessJwt']}"
            try:
                return self._send(method, url, headers=headers, **kwargs)
            except _TokenExpired:
                if attempt == 1 or not auth:
                    raise AuthExpired(
                        "Bluesky: the access token expired again after refresh"
                    ) from None
                self._sessions.pop(account.id, None)
                self.refresh(account)
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = send(
            self.http, method, url, network="Bluesky", reasons=IN_TIME_REASONS, **kwargs
        )
        if response.status_code < 400:
            return response
        error_name, message = _error(response)
        if error_name == "ExpiredToken":
            raise _TokenExpired(message)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryLater(
                f"Bluesky {response.status_code} {error_name}: {message}", wait_seconds(response)
            )
        if response.status_code == 401 or error_name in _AUTH_ERRORS:
            raise AuthExpired(f"Bluesky {error_name}: {message}")
        raise Rejected(f"Bluesky {response.status_code} {error_name}: {message}")

    def _web_url(self, account: Account, uri: str) -> str:
        repo, _, rkey = split_uri(uri)
        return f"https://bsky.app/profile/{account.handle or repo}/post/{rkey}"


class _TokenExpired(AuthExpired):
    """400 ExpiredToken: the access token can be refreshed."""


def service_url(account: Account) -> str:
    return str(account.settings.get("service") or DEFAULT_SERVICE).rstrip("/")


def split_uri(uri: str) -> tuple[str, str, str]:
    """`at://did/collection/rkey` → (did, collection, rkey)."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3:
        raise Rejected(f"Bluesky: {uri!r} is not a post URI (at://did/collection/rkey)")
    return parts[0], parts[1], parts[2]


def _tid(value: int) -> str:
    return "".join(_TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def record_key(idempotency_key: str) -> str:
    """A valid TID record key derived from `idempotency_key`: the same key, the same rkey."""
    digest = int.from_bytes(hashlib.sha256(idempotency_key.encode("utf-8")).digest()[:8], "big")
    micros = _TID_EPOCH_US + (digest >> 10) % _TID_SPAN_US
    return _tid((micros << 10) | (digest & 0x3FF))


def new_record_key() -> str:
    return _tid(((time.time_ns() // 1000) << 10) | secrets.randbits(10))


def wait_seconds(response: httpx.Response) -> float | None:
    """Retry-After, else RateLimit-Reset (epoch seconds)."""
    wait = retry_after(response.headers)
    if wait is not None:
        return wait
    reset = response.headers.get("RateLimit-Reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - time.time())
    return None


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase, response.text[:200]
    if not isinstance(body, dict):
        return response.reason_phrase, str(body)[:200]
    return str(body.get("error") or response.reason_phrase), str(body.get("message") or "")[:300]


def _images_embed(media: tuple[Media, ...], blobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not blobs:
        return None
    images = []
    for item, blob in zip(media, blobs, strict=True):
        image: dict[str, Any] = {"image": blob, "alt": item.alt_text}
        if item.width and item.height:
            image["aspectRatio"] = {"width": item.width, "height": item.height}
        images.append(image)
    return {"$type": "app.bsky.embed.images", "images": images}


def _session_credentials(session: dict[str, Any]) -> dict[str, Any]:
    keys = ("accessJwt", "refreshJwt", "did", "handle")
    return {key: session[key] for key in keys if key in session}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mention(notification: dict[str, Any]) -> IncomingMention:
    record = notification.get("record") or {}
    reply = record.get("reply") or {}
    author = notification.get("author") or {}
    rkey = str(notification["uri"]).rsplit("/", 1)[-1]
    handle = author.get("handle") or author.get("did") or ""
    return IncomingMention(
        external_id=str(notification["uri"]),
        author=str(handle),
        text=str(record.get("text") or ""),
        created_at=datetime.fromisoformat(
            str(record.get("createdAt") or notification["indexedAt"]).replace("Z", "+00:00")
        ),
        url=f"https://bsky.app/profile/{handle}/post/{rkey}",
        in_reply_to=(reply.get("parent") or {}).get("uri"),
    )


@hookimpl
def register_networks(register: Callable[[type], None]) -> None:
    register(BlueskyAdapter)
