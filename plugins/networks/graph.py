"""What Facebook Pages, Instagram and Threads share: Meta's Graph API call and error envelope.

Errors come as `{"error": {"message", "type", "code", "error_subcode", "is_transient",
"error_user_msg", "fbtrace_id"}}` (developers.facebook.com/docs/graph-api/guides/error-handling):

- 190 (invalid or expired token; subcodes 460/463/467) and 102 (session) -> `AuthExpired`;
- 4 (app), 17 (user), 32 (page), 613 (custom) and 80001-80014 (business use case) throttles,
  1/2 (temporary) or `is_transient` -> `RetryLater`, waiting for `Retry-After` when present,
  else the largest `estimated_time_to_regain_access` (minutes) of `X-Business-Use-Case-Usage`;
- 9 (Instagram publishing quota reached, [3p]) -> `RetryLater` without a known wait;
- anything else the network answers (506 duplicate post, 368 policy block, 100 invalid
  parameter, 10/200-299 permissions) -> `Rejected` with the network's own message.

The token travels as the documented `access_token` parameter: in the form body for POSTs, in
the query for GETs. Reasons never contain it (Graph messages do not echo tokens, and transport
failures are reported without the URL).

Instagram and Threads also share the container flow (`ContainerAdapter`): a container is
polled until FINISHED before it is published, and a long-lived token is refreshed with a
`refresh_access_token` grant.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx

from plugins.networks.base import (
    Account,
    AuthExpired,
    IncomingMention,
    MentionPage,
    NetworkAdapter,
    NetworkError,
    PublishResult,
    Rejected,
    RetryLater,
)
from plugins.networks.edge import json_body, retry_after, send

AUTH_CODES = frozenset({102, 190})
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
QUOTA_CODES = frozenset({9})
INVALID_PARAMETER = 100


class GraphRejected(Rejected):
    """A refusal that keeps the Graph error code, so an adapter can react to a specific one."""

    def __init__(self, reason: str, code: int | None) -> None:
        super().__init__(reason)
        self.code = code


def business_use_case_wait(headers: httpx.Headers) -> float | None:
    """Seconds until access returns, from `X-Business-Use-Case-Usage` (given in minutes)."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = [
            float(entry.get("estimated_time_to_regain_access") or 0)
            for entries in usage.values()
            for entry in entries
        ]
    except (ValueError, AttributeError, TypeError):
        return None
    longest = max(minutes, default=0.0)
    return longest * 60 if longest > 0 else None


def graph_error(network: str, response: httpx.Response) -> NetworkError:
    """The error kind for a failed Graph response."""
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        if response.status_code == 429 or response.status_code >= 500:
            return RetryLater(
                f"{network}: HTTP {response.status_code}", retry_after(response.headers)
            )
        if response.status_code == 401:
            return AuthExpired(f"{network}: the access token was refused (HTTP 401)")
        return GraphRejected(f"{network}: HTTP {response.status_code}", None)
    code = error.get("code")
    message = error.get("error_user_msg") or error.get("message") or "unknown error"
    reason = f"{network}: {message} (code {code})"
    if code in AUTH_CODES:
        return AuthExpired(reason)
    if code in THROTTLE_CODES or code in TRANSIENT_CODES or error.get("is_transient"):
        wait = retry_after(response.headers) or business_use_case_wait(response.headers)
        return RetryLater(reason, wait)
    if code in QUOTA_CODES:
        return RetryLater(reason, retry_after(response.headers))
    if response.status_code >= 500:
        return RetryLater(reason, retry_after(response.headers))
    return GraphRejected(reason, code if isinstance(code, int) else None)


class GraphApi:
    """Calls to one Graph host with one access token; every failure already translated."""

    def __init__(self, http: httpx.Client, base_url: str, access_token: str, network: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.network = network

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        query = {**(params or {}), "access_token": self.access_token}
        return self._call("GET", path, params=query)

    def post(
        self, path: str, data: dict[str, Any] | None = None, files: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        form = {key: _form_value(value) for key, value in (data or {}).items() if value is not None}
        form["access_token"] = self.access_token
        return self._call("POST", path, data=form, files=files)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.base_url}/{path.lstrip('/')}"
        response = send(self.http, method, url, network=self.network, **kwargs)
        if response.is_success:
            body = json_body(response)
            return body if isinstance(body, dict) else {}
        raise graph_error(self.network, response)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def parse_time(value: str | None) -> datetime | None:
    """Graph timestamps look like `2026-05-04T10:20:30+0000`."""
    if not value:
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class HighWaterMark:
    """A mention cursor for APIs without one: the newest time seen, and the ids seen at it.

    Serialised as `<iso time>|<id>,<id>`, so a comment written in the same second as the last
    one we returned is neither lost nor returned twice.
    """

    time: datetime | None = None
    ids: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, cursor: str | None) -> HighWaterMark:
        if not cursor:
            return cls()
        stamp, _, ids = cursor.partition("|")
        try:
            time = datetime.fromisoformat(stamp)
        except ValueError:
            return cls()
        return cls(time, frozenset(filter(None, ids.split(","))))

    def admits(self, external_id: str, created_at: datetime) -> bool:
        if self.time is None or created_at > self.time:
            return True
        return created_at == self.time and external_id not in self.ids

    def page(self, mentions: list[IncomingMention], cursor: str | None) -> MentionPage:
        """The admitted `mentions`, oldest first, and the cursor after them."""
        ordered = sorted(mentions, key=lambda mention: mention.created_at)
        seen = [(mention.external_id, mention.created_at) for mention in ordered]
        return MentionPage(tuple(ordered), self.advance(seen) or cursor)

    def advance(self, seen: list[tuple[str, datetime]]) -> str | None:
        """The cursor after `seen` (id, time) pairs were returned; unchanged when empty."""
        time, ids = self.time, set(self.ids)
        for external_id, created_at in seen:
            if time is None or created_at > time:
                time, ids = created_at, {external_id}
            elif created_at == time:
                ids.add(external_id)
        if time is None:
            return None
        return f"{time.isoformat()}|{','.join(sorted(ids))}"


def same_text(entries: list[dict[str, Any]], field: str, text: str) -> PublishResult | None:
    """The first of `entries` (Graph objects with `id`, `permalink`) whose `field` is `text`."""
    for entry in entries:
        if entry.get(field, "") == text:
            return PublishResult(
                entry["id"], url=entry.get("permalink", ""), part_ids=(entry["id"],)
            )
    return None


class ContainerAdapter(NetworkAdapter):
    """Meta's container flow (Instagram, Threads): create a container, wait until it is
    FINISHED, publish it. `status_field` holds the state, `detail_field` why it failed."""

    status_field: ClassVar[str]
    detail_field: ClassVar[str]

    def __init__(
        self,
        http: httpx.Client | None = None,
        *,
        poll_interval: float = 3.0,
        max_polls: int = 20,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(http)
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self.sleep = sleep

    def _wait_until_finished(self, api: GraphApi, container: str) -> None:
        for attempt in range(self.max_polls):
            state = api.get(container, {"fields": f"{self.status_field},{self.detail_field}"})
            status = state.get(self.status_field)
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                detail = state.get(self.detail_field) or status
                raise Rejected(f"{self.display_name}: the media container failed ({detail})")
            if attempt + 1 < self.max_polls:
                self.sleep(self.poll_interval)
        raise RetryLater(
            f"{self.display_name}: the media is still being processed", self.poll_interval
        )

    def _permalink(self, api: GraphApi, media_id: str) -> str:
        # The post is out: a failure here must not make the caller publish it again.
        try:
            return str(api.get(media_id, {"fields": "permalink"}).get("permalink", ""))
        except NetworkError:
            return ""

    def _refresh_token(self, account: Account, base_url: str, grant_type: str) -> dict[str, Any]:
        """New credentials from `GET {base_url}/refresh_access_token?grant_type=…`."""
        api = GraphApi(self.http, base_url, account.credentials["access_token"], self.display_name)
        answer = api.get("refresh_access_token", {"grant_type": grant_type})
        if "access_token" not in answer:
            raise AuthExpired(f"{self.display_name}: the refresh gave no token")
        return {
            **account.credentials,
            "access_token": answer["access_token"],
            "expires_in": answer.get("expires_in"),
        }
