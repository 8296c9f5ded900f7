"""Telegram through the Bot API: a bot posting to one chat (a channel or a group).

Account: `credentials["bot_token"]`; `settings["chat_id"]` (a number or `@channelname`).

- Text: `sendMessage` {chat_id, text}; a reply adds `reply_parameters {message_id}`.
- One image: `sendPhoto` {chat_id, photo (URL, or a multipart upload), caption}.
- 2-10 images: `sendMediaGroup` {chat_id, media: [InputMediaPhoto…]}, the caption on the
  first; uploads go as `attach://<name>` parts.
- Thread: each further part is a `sendMessage` replying to the part before it.
- Mentions: `getUpdates` with `offset` = the cursor (last update_id + 1), keeping messages of
  the configured chat. In privacy mode a group bot receives exactly the messages meant for it
  (replies to it, @mentions, commands). Asking with an offset confirms earlier updates: other
  chats' updates are dropped too. Does not work while a webhook is set (HTTP 409 -> Rejected).
- Text is sent as plain text (no `parse_mode`), so nothing needs escaping.
- Errors `{"ok": false, "error_code", "description", "parameters"}`: 429 ->
  `RetryLater(after=parameters.retry_after)`; 401 -> `AuthExpired`; 400 "Bad Request: …"
  and 403 "Forbidden: …" -> `Rejected` with the description; 5xx -> `RetryLater`.
- The bot token is part of every URL: reasons never carry a URL.
- No metrics (the Bot API gives bots no view or reaction counts for posts they sent), no
  refresh (a token lives until revoked), no lookup (a bot cannot list what it sent). Photos
  have no alt text field: `Media.alt_text` is not sent.

Confirmed in the official docs (core.telegram.org/bots/api): message 1-4,096 characters and
caption 0-1,024 after entity parsing, entity offsets in UTF-16 code units (so lengths are
counted in UTF-16 code units here: an emoji counts 2, 👍🏽 counts 4), sendMediaGroup 2-10
items, photo 10 MB, reply_parameters, ResponseParameters.retry_after, getUpdates offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plugins.networks.base import (
    FETCH_MENTIONS,
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
    NetworkError,
    OutgoingPost,
    PublishResult,
    Rejected,
    RetryLater,
    ValidationProblem,
)
from plugins.networks.edge import json_body, send, utf16_length
from plugins.networks.hookspecs import hookimpl
from plugins.networks.textrules import standard_problems

CAPTION_MAX = 1024


class TelegramAdapter(NetworkAdapter):
    name = "telegram"
    display_name = "Telegram"
    limits = Limits(
        max_length=4096,
        counting="counted in UTF-16 code units (an emoji counts 2); 1,024 with an image",
        max_media=10,
        media_types=("image/jpeg", "image/png", "image/webp"),
        max_media_bytes=10 * 1024 * 1024,
        text_required=False,
        capabilities=frozenset({PUBLISH_TEXT, PUBLISH_MEDIA, THREADS, REPLIES, FETCH_MENTIONS}),
    )

    def count(self, text: str) -> int:
        return utf16_length(text)

    def validate(
        self, post: OutgoingPost, account: Account | None = None
    ) -> list[ValidationProblem]:
        problems = standard_problems(self, post)
        length = self.count(post.text)
        if post.media and CAPTION_MAX < length <= self.limits.max_length:
            problems.append(
                ValidationProblem(
                    "too_long",
                    f"Telegram: {length} of {CAPTION_MAX} characters in a caption, "
                    "counted in UTF-16 code units",
                )
            )
        return problems

    def _call(self, account: Account, method: str, **kwargs: Any) -> Any:
        url = f"https://api.telegram.org/bot{account.credentials['bot_token']}/{method}"
        response = send(self.http, "POST", url, network=self.display_name, **kwargs)
        body = json_body(response)
        if response.is_success and isinstance(body, dict) and body.get("ok"):
            return body.get("result")
        raise _error(response.status_code, body if isinstance(body, dict) else {})

    # publishing -----------------------------------------------------------------------
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        chat_id = account.settings["chat_id"]
        first = self._send_first(post, account, chat_id)
        part_ids = [first]
        for part in post.thread:
            message = self._call(
                account,
                "sendMessage",
                json={
                    "chat_id": chat_id,
                    "text": part,
                    "reply_parameters": {"message_id": int(part_ids[-1])},
                },
            )
            part_ids.append(str(message["message_id"]))
        return PublishResult(first, url=_message_url(chat_id, first), part_ids=tuple(part_ids))

    def _send_first(self, post: OutgoingPost, account: Account, chat_id: Any) -> str:
        reply = {"reply_parameters": {"message_id": int(post.reply_to)}} if post.reply_to else {}
        if len(post.media) > 1:
            media, files = _media_group(post.media, post.text)
            fields: dict[str, Any] = {"chat_id": chat_id, "media": media, **reply}
            if files:
                messages = self._call(account, "sendMediaGroup", data=_form(fields), files=files)
            else:
                messages = self._call(account, "sendMediaGroup", json=fields)
            return str(messages[0]["message_id"])
        if post.media:
            photo = post.media[0]
            fields = {"chat_id": chat_id, **reply}
            if post.text:
                fields["caption"] = post.text
            if photo.url and photo.content is None:
                message = self._call(account, "sendPhoto", json={**fields, "photo": photo.url})
            else:
                message = self._call(
                    account,
                    "sendPhoto",
                    data=_form(fields),
                    files={"photo": ("photo", photo.content or b"", photo.mime_type)},
                )
            return str(message["message_id"])
        message = self._call(
            account, "sendMessage", json={"chat_id": chat_id, "text": post.text, **reply}
        )
        return str(message["message_id"])

    # reading --------------------------------------------------------------------------
    def fetch_mentions(self, account: Account, cursor: str | None) -> MentionPage:
        request: dict[str, Any] = {"timeout": 0, "allowed_updates": ["message", "channel_post"]}
        if cursor:
            request["offset"] = int(cursor)
        updates = self._call(account, "getUpdates", json=request) or []
        chat_id = str(account.settings["chat_id"])
        mentions: list[IncomingMention] = []
        next_offset = cursor
        for update in updates:
            next_offset = str(int(update["update_id"]) + 1)
            message = update.get("message") or update.get("channel_post")
            if not message or not _same_chat(message.get("chat", {}), chat_id):
                continue
            sender = message.get("from", {})
            if sender.get("is_bot") and sender.get("username") == account.handle.lstrip("@"):
                continue
            replied = message.get("reply_to_message")
            mentions.append(
                IncomingMention(
                    external_id=str(message["message_id"]),
                    author=sender.get("username")
                    or sender.get("first_name")
                    or message.get("chat", {}).get("title", ""),
                    text=message.get("text") or message.get("caption") or "",
                    created_at=datetime.fromtimestamp(int(message.get("date", 0)), UTC),
                    url=_message_url(chat_id, str(message["message_id"])),
                    in_reply_to=str(replied["message_id"]) if replied else None,
                )
            )
        return MentionPage(tuple(mentions), next_offset)


def _media_group(
    media: tuple[Media, ...], caption: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    items: list[dict[str, Any]] = []
    files: dict[str, Any] = {}
    for index, item in enumerate(media):
        entry: dict[str, Any] = {"type": "photo"}
        if item.url and item.content is None:
            entry["media"] = item.url
        else:
            name = f"photo{index}"
            entry["media"] = f"attach://{name}"
            files[name] = (name, item.content or b"", item.mime_type)
        if index == 0 and caption:
            entry["caption"] = caption
        items.append(entry)
    return items, files


def _form(fields: dict[str, Any]) -> dict[str, str]:
    import json

    return {
        key: value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, (dict, list))
        else str(value)
        for key, value in fields.items()
    }


def _same_chat(chat: dict[str, Any], chat_id: str) -> bool:
    if str(chat.get("id")) == chat_id:
        return True
    username = chat.get("username")
    return bool(username) and f"@{username}".lower() == chat_id.lower()


def _message_url(chat_id: Any, message_id: str) -> str:
    chat = str(chat_id)
    if chat.startswith("@"):
        return f"https://t.me/{chat[1:]}/{message_id}"
    if chat.startswith("-100"):
        return f"https://t.me/c/{chat[4:]}/{message_id}"
    return ""


def _error(status: int, body: dict[str, Any]) -> NetworkError:
    code = body.get("error_code", status)
    description = body.get("description") or f"HTTP {status}"
    parameters = body.get("parameters") or {}
    reason = f"Telegram: {description}"
    if code == 429 or status == 429:
        wait = parameters.get("retry_after")
        return RetryLater(reason, float(wait) if wait is not None else None)
    if code == 401 or status == 401:
        return AuthExpired(reason)
    if status >= 500 or (isinstance(code, int) and code >= 500):
        return RetryLater(reason)
    if parameters.get("migrate_to_chat_id"):
        return Rejected(f"{reason} (the group is now chat {parameters['migrate_to_chat_id']})")
    return Rejected(reason)


@hookimpl
def register_networks(register):  # type: ignore[no-untyped-def]
    register(TelegramAdapter)
