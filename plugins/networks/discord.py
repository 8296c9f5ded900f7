"""Discord through an incoming webhook: posting into one channel, nothing more.

Account: `credentials["webhook_url"]` (`https://discord.com/api/webhooks/{id}/{token}`, the
URL is the secret); optional `settings["thread_id"]` (post into a thread or forum post),
`settings["username"]`, `settings["avatar_url"]`, `settings["guild_id"]` (for message links),
`settings["allowed_mentions"]` (default `{"parse": []}`: a drafted text never pings
@everyone or a role unless the account says so).

- `POST {webhook_url}?wait=true`: with `wait=true` Discord answers 200 with the message (its
  `id`), without it 204 and a message that failed to save raises no error.
- Text: JSON `{content, allowed_mentions, username?, avatar_url?}`.
- Files: multipart, `files[n]` parts plus `payload_json` whose `attachments[n]` carry
  `{id, filename, description}`; the description is the image's alt text (at most 1,024).
  An image given only by URL is downloaded first so it can carry its alt text.
- Errors `{"code", "message", "errors"}`: 429 -> `RetryLater(after=retry_after)` (body
  float seconds, else `Retry-After`); 401 -> `AuthExpired`; 404 code 10015 (unknown webhook:
  the webhook was deleted) -> `AuthExpired` too, because the credential itself is dead and
  the fix is reconnecting with a new webhook URL, not changing the content; 400 code 50035
  (invalid form body) / 50006 (empty message) and other 4xx -> `Rejected`; 5xx -> `RetryLater`.
- Declared absent: replies and threads (a webhook cannot reply to a message), mentions and
  metrics (reading a channel needs a bot), refresh, lookup.

Confirmed in the official docs (discord.com/developers/docs): execute webhook and `wait`,
`thread_id`, 2,000-character content, 10 files, `payload_json` + `attachments[].description`,
the 429 body and headers, error codes 10015, 50006, 50035. Unconfirmed: the counting unit;
counted here in Unicode code points (👍🏽 counts 2).
"""

from __future__ import annotations

import json
from typing import Any

from plugins.networks.base import (
    PUBLISH_MEDIA,
    PUBLISH_TEXT,
    Account,
    AuthExpired,
    Limits,
    Media,
    NetworkAdapter,
    NetworkError,
    OutgoingPost,
    PublishResult,
    Rejected,
    RetryLater,
)
from plugins.networks.edge import json_body, retry_after, send
from plugins.networks.hookspecs import hookimpl

UNKNOWN_WEBHOOK = 10015
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


class DiscordAdapter(NetworkAdapter):
    name = "discord"
    display_name = "Discord"
    limits = Limits(
        max_length=2000,
        counting="counted in Unicode code points (an emoji counts 1, with a skin tone 2)",
        max_media=10,
        media_types=tuple(EXTENSIONS),
        max_media_bytes=10 * 1024 * 1024,
        alt_text_max=1024,
        text_required=False,
        capabilities=frozenset({PUBLISH_TEXT, PUBLISH_MEDIA}),
    )

    def count(self, text: str) -> int:
        return len(text)

    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        if post.reply_to:
            raise self._unsupported("replies")
        if post.thread:
            raise self._unsupported("threads")
        payload: dict[str, Any] = {
            "allowed_mentions": account.settings.get("allowed_mentions", {"parse": []}),
        }
        if post.text:
            payload["content"] = post.text
        for setting in ("username", "avatar_url"):
            if account.settings.get(setting):
                payload[setting] = account.settings[setting]
        params = {"wait": "true"}
        if account.settings.get("thread_id"):
            params["thread_id"] = str(account.settings["thread_id"])
        if post.media:
            files, attachments = self._files(post.media)
            payload["attachments"] = attachments
            response = self._send(
                account, params, data={"payload_json": json.dumps(payload)}, files=files
            )
        else:
            response = self._send(account, params, json=payload)
        message = json_body(response)
        message_id = str(message["id"])
        guild = account.settings.get("guild_id") or message.get("guild_id")
        channel = message.get("channel_id")
        url = (
            f"https://discord.com/channels/{guild}/{channel}/{message_id}"
            if guild and channel
            else ""
        )
        return PublishResult(message_id, url=url, part_ids=(message_id,))

    def _files(self, media: tuple[Media, ...]) -> tuple[list[Any], list[dict[str, Any]]]:
        files: list[Any] = []
        attachments: list[dict[str, Any]] = []
        for index, item in enumerate(media):
            filename = f"image{index}.{EXTENSIONS.get(item.mime_type, 'bin')}"
            content = item.content if item.content is not None else self._download(item)
            files.append((f"files[{index}]", (filename, content, item.mime_type)))
            attachment: dict[str, Any] = {"id": index, "filename": filename}
            if item.alt_text:
                attachment["description"] = item.alt_text
            attachments.append(attachment)
        return files, attachments

    def _download(self, media: Media) -> bytes:
        if not media.url:
            raise Rejected("Discord: an image needs its bytes or a URL to read them from")
        response = send(self.http, "GET", media.url, network=self.display_name)
        if not response.is_success:
            raise _error(response)
        return response.content

    def _send(self, account: Account, params: dict[str, str], **kwargs: Any) -> Any:
        response = send(
            self.http,
            "POST",
            account.credentials["webhook_url"],
            network=self.display_name,
            params=params,
            **kwargs,
        )
        if response.is_success:
            return response
        raise _error(response)


def _error(response: Any) -> NetworkError:
    status = response.status_code
    body = json_body(response)
    body = body if isinstance(body, dict) else {}
    code = body.get("code")
    message = body.get("message") or f"HTTP {status}"
    details = _field_errors(body.get("errors"))
    reason = f"Discord: {message}" + (f" ({'; '.join(details)})" if details else "")
    if status == 429:
        wait = body.get("retry_after")
        return RetryLater(
            reason, float(wait) if wait is not None else retry_after(response.headers)
        )
    if status == 401 or code == UNKNOWN_WEBHOOK:
        return AuthExpired(
            f"Discord: {message}; reconnect with a new webhook URL"
            if code == UNKNOWN_WEBHOOK
            else reason
        )
    if status >= 500:
        return RetryLater(reason, retry_after(response.headers))
    return Rejected(reason)


def _field_errors(errors: Any, path: str = "") -> list[str]:
    """Flatten Discord's nested `errors` object into `field: message` lines."""
    if not isinstance(errors, dict):
        return []
    lines: list[str] = []
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            lines.extend(f"{path or 'body'}: {item.get('message', '')}" for item in value)
        else:
            lines.extend(_field_errors(value, f"{path}.{key}" if path else key))
    return lines


@hookimpl
def register_networks(register):  # type: ignore[no-untyped-def]
    register(DiscordAdapter)
