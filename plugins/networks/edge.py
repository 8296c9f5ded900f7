"""What every HTTP adapter needs at its edge: the call itself, and the wait a network asks.

Transport failures become `RetryLater` with a reason that never carries the URL: for Telegram
the bot token is part of the path, for Discord the webhook token is, so neither may reach an
exception message or a log line through us.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from plugins.networks.base import RetryLater


def send(
    http: httpx.Client, method: str, url: str, *, network: str, **kwargs: Any
) -> httpx.Response:
    """One HTTP call; timeouts and connection failures become `RetryLater` (without the URL)."""
    try:
        return http.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise RetryLater(f"{network}: the request timed out") from None
    except httpx.TransportError as error:
        raise RetryLater(f"{network}: network error ({type(error).__name__})") from None


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), else None."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or {} when the body is not JSON (an HTML error page, nothing)."""
    try:
        return response.json()
    except ValueError:
        return {}


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units: what JavaScript's and Java's `length` return."""
    return len(text.encode("utf-16-le")) // 2
