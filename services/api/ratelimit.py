"""Rate limits per API key on the agency API (/v1/...): a token bucket per key, as a pure ASGI
middleware.

Each key gets `burst` tokens, refilled at `per_minute` a minute; a request takes one. With
none left the answer is 429 (problem details) with `Retry-After`. Every answer carries the
IETF draft headers (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` and
`RateLimit`, and their widely used older spelling `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset`.

The buckets live in the process's memory: each api replica counts on its own, so N replicas
allow up to N times the rate, and a restart refills every bucket. Requests without a bearer
key are not counted (they get a 401, or are a network's signed callback). Keys are kept by a
hash, never in clear.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.idempotency import problem_message

MAX_BUCKETS = 50_000  # least recently used buckets are dropped past this (full again when back)


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # until the bucket is full again
    retry_after_s: int  # until one token is back (0 when allowed)


class TokenBuckets:
    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, updated
        self._lock = threading.Lock()

    def take(self, bucket: str) -> Decision:
        now = self.clock()
        with self._lock:
            tokens, updated = self._buckets.pop(bucket, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - updated) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[bucket] = (tokens, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._buckets.popitem(last=False)
        missing = self.capacity - tokens
        return Decision(
            allowed=allowed,
            limit=int(self.capacity),
            remaining=int(tokens),
            reset_s=math.ceil(missing / self.rate) if self.rate else 0,
            retry_after_s=0 if allowed else max(1, math.ceil((1.0 - tokens) / self.rate)),
        )


def bucket_of(scope: Scope) -> str | None:
    """The bearer key's hash; None without one (the route answers 401, or it is a network's
    public callback, which must not be throttled by the caller's address)."""
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return hashlib.sha256(token.strip().encode()).hexdigest()
    return None


def rate_headers(decision: Decision, window_s: int) -> dict[str, str]:
    return {
        "RateLimit-Policy": f'"per-key";q={decision.limit};w={window_s}',
        "RateLimit": f'"per-key";r={decision.remaining};t={decision.reset_s}',
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_s),
    }


class RateLimitMiddleware:
    """`per_minute=0` turns the limit off."""

    def __init__(self, app: ASGIApp, per_minute: int, burst: int, prefix: str = "/v1/") -> None:
        self.app = app
        self.prefix = prefix
        self.buckets = TokenBuckets(per_minute, burst) if per_minute > 0 else None
        self.window_s = math.ceil(burst * 60 / per_minute) if per_minute > 0 else 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.buckets is None
            or scope["type"] != "http"
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        bucket = bucket_of(scope)
        if bucket is None:
            await self.app(scope, receive, send)
            return
        decision = self.buckets.take(bucket)
        headers = rate_headers(decision, self.window_s)
        if not decision.allowed:
            start, body = problem_message(
                scope["path"],
                429,
                "rate-limited",
                f"too many requests for this API key; retry in {decision.retry_after_s} s",
                {**headers, "Retry-After": str(decision.retry_after_s)},
            )
            await send(start)
            await send(body)
            return
        raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *raw]}
            await send(message)

        await self.app(scope, receive, with_headers)
