"""The contract every social-network adapter implements, and the values it exchanges.

The core (publish, ingest, generation, the API) only ever sees `NetworkAdapter` and these
dataclasses; it never imports an adapter by name. Adapters translate the network's errors
into the three kinds below at the edge:

- `RetryLater(after)`: the network asked us to wait (429, 5xx, timeouts);
- `AuthExpired`: the authorization no longer works (refresh once, then disconnect);
- `Rejected(reason)`: the network refused the content; never retried.

A capability a network does not offer is declared absent in `Limits.capabilities`; calling
it raises `Unsupported` with the network's name, never a bare NotImplementedError.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

# Capabilities an adapter may declare.
PUBLISH_TEXT = "publish_text"
PUBLISH_MEDIA = "publish_media"
THREADS = "threads"
REPLIES = "replies"
FETCH_MENTIONS = "fetch_mentions"
FETCH_METRICS = "fetch_metrics"
OAUTH = "oauth"
REFRESH = "refresh"
IDEMPOTENCY = "idempotency"
LOOKUP = "lookup"  # can find an already-published post (after a crash)
FIRST_COMMENT = "first_comment"


class NetworkError(Exception):
    """Base of the errors an adapter raises."""


class RetryLater(NetworkError):
    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


class AuthExpired(NetworkError):
    def __init__(self, reason: str = "authorization expired") -> None:
        super().__init__(reason)
        self.reason = reason


class Rejected(NetworkError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unsupported(NetworkError):
    """The network does not offer this capability (it is absent from `limits.capabilities`)."""


@dataclass(frozen=True)
class Limits:
    max_length: int
    counting: str  # how the length is counted, in words a person understands
    max_media: int = 0
    media_types: tuple[str, ...] = ()
    max_media_bytes: int = 0
    alt_text_max: int | None = None
    max_hashtags: int | None = None
    text_required: bool = True
    capabilities: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_length": self.max_length,
            "counting": self.counting,
            "max_media": self.max_media,
            "media_types": list(self.media_types),
            "max_media_bytes": self.max_media_bytes,
            "alt_text_max": self.alt_text_max,
            "max_hashtags": self.max_hashtags,
            "text_required": self.text_required,
            "capabilities": sorted(self.capabilities),
        }


@dataclass(frozen=True)
class Media:
    mime_type: str
    alt_text: str = ""
    url: str | None = None
    content: bytes | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class OutgoingPost:
    text: str
    media: tuple[Media, ...] = ()
    thread: tuple[str, ...] = ()  # further parts, each a reply to the previous
    reply_to: str | None = None  # external id of the post this replies to
    idempotency_key: str = ""
    language: str | None = None


@dataclass
class Account:
    """What an adapter knows of the account it acts for (credentials already decrypted)."""

    id: str
    handle: str
    credentials: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationProblem:
    code: str  # too_long, too_many_media, media_type, media_too_large, alt_text_too_long, ...
    message: str  # e.g. "X: 291 of 280 characters, counted with links as 23"
    where: str = "text"  # text, media[0], thread[2]...


@dataclass(frozen=True)
class PublishResult:
    external_id: str
    url: str = ""
    part_ids: tuple[str, ...] = ()  # every part of a thread, first included


@dataclass(frozen=True)
class IncomingMention:
    external_id: str
    author: str
    text: str
    created_at: datetime
    url: str = ""
    in_reply_to: str | None = None


@dataclass(frozen=True)
class MentionPage:
    mentions: tuple[IncomingMention, ...]
    cursor: str | None  # give it back next time to continue where this page ended


@dataclass(frozen=True)
class PostMetrics:
    external_id: str
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    impressions: int | None = None


class NetworkAdapter(ABC):
    """One social network. Built with an `httpx.Client` so tests can hand it a MockTransport."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    limits: ClassVar[Limits]

    def __init__(self, http: httpx.Client | None = None) -> None:
        self.http = http or httpx.Client(timeout=httpx.Timeout(20.0, connect=5.0))

    # text rules -----------------------------------------------------------------------
    @abstractmethod
    def count(self, text: str) -> int:
        """The length of `text` as this network counts it."""

    def validate(self, post: OutgoingPost, account: Account | None = None) -> list[ValidationProblem]:
        """Every reason the network would refuse `post`; empty when it fits."""
        from plugins.networks.textrules import standard_problems

        return standard_problems(self, post)

    # capabilities ---------------------------------------------------------------------
    def supports(self, capability: str) -> bool:
        return capability in self.limits.capabilities

    def _unsupported(self, capability: str) -> Unsupported:
        return Unsupported(f"{self.display_name} does not offer {capability}")

    @abstractmethod
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        """Publish text, media, a reply or a thread; raise RetryLater/AuthExpired/Rejected."""

    def find_published(self, post: OutgoingPost, account: Account) -> PublishResult | None:
        """After a crash mid-call: the post if the network already has it, else None."""
        raise self._unsupported(LOOKUP)

    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        raise self._unsupported(FETCH_MENTIONS)

    def fetch_metrics(self, account: Account, external_ids: list[str]) -> list[PostMetrics]:
        raise self._unsupported(FETCH_METRICS)

    def refresh(self, account: Account) -> dict[str, Any]:
        """New credentials for an expired authorization (raise AuthExpired if impossible)."""
        raise self._unsupported(REFRESH)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "display_name": self.display_name, **self.limits.as_dict()}
