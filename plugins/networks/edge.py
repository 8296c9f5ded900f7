"""What every HTTP adapter needs at its edge: the call itself, and the wait a network asks.

Transport failures become `RetryLater` with a reason that never carries the URL: for Telegram
the bot token is part of the path, for Discord the webhook token is, so neither may reach an
exception message or a log line through us.

Also here: the usual REST mapping of a failed answer (429/5xx wait, 401 re-authorize, the
rest is refused), the short reason read from an error body, and the bytes of a `Media`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from plugins.networks.base import AuthExpired, Media, NetworkError, Rejected, RetryLater

# How `send` words a timeout and a transport failure: `{network}` is the network's name,
# `{error}` the class name of the httpx exception. Neither ever holds the URL.
TERSE_REASONS = ("{network}: the request timed out", "{network}: network error ({error})")
IN_TIME_REASONS = (
    "{network} did not answer in time ({error})",
    "{network} could not be reached ({error})",
)


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    network: str,
    reasons: tuple[str, str] = TERSE_REASONS,
    **kwargs: Any,
) -> httpx.Response:
    """One HTTP call; timeouts and connection failures become `RetryLater` (without the URL)."""
    timed_out, unreachable = reasons
    try:
        return http.request(method, url, **kwargs)
    except httpx.TimeoutException as error:
        raise RetryLater(timed_out.format(network=network, error=type(error).__name__)) from None
    except httpx.TransportError as error:
        raise RetryLater(unreachable.format(network=network, error=type(error).__name__)) from None


def rest_error(
    network: str,
    response: httpx.Response,
    message: str,
    wait: Callable[[httpx.Response], float | None],
) -> NetworkError:
    """The usual mapping of a failed answer: 429 and 5xx wait `wait(response)` seconds, 401
    asks for a new authorization, anything else is refused."""
    status = response.status_code
    if status == 429 or status >= 500:
        return RetryLater(f"{network} {status}: {message}", wait(response))
    if status == 401:
        return AuthExpired(f"{network}: {message}")
    return Rejected(f"{network} {status}: {message}")


def error_message(
    response: httpx.Response, describe: Callable[[dict[str, Any]], str | None] | None = None
) -> str:
    """A short reason from an error answer: `describe(body)` for a JSON object when it has
    one, else its OAuth `error_description` or `error`; a body that is not JSON, cut short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    described = describe(body) if describe else None
    return str(described or body.get("error_description") or body.get("error") or body)[:300]


def media_bytes(http: httpx.Client, media: Media, *, network: str = "") -> bytes:
    """The media's bytes: given inline, or downloaded from its URL (a public one, unlike the
    API URLs above, so a failed download may name it)."""
    if media.content is not None:
        return media.content
    if not media.url:
        prefix = f"{network}: " if network else ""
        raise Rejected(f"{prefix}media has neither content nor url")
    try:
        response = http.get(media.url)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise RetryLater(f"could not download media {media.url}: {error}") from error
    return response.content


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
