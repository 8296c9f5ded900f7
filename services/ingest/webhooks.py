"""Webhook receivers: networks that push mentions instead of being polled.

Each push is authenticated before anything is read from it, with the account's own secret
(stored encrypted with its credentials), compared in constant time:

- Telegram (`setWebhook` with `secret_token`): header `X-Telegram-Bot-Api-Secret-Token`
  equals `credentials["webhook_secret"]`;
- Meta (Facebook, Instagram, Threads): `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256
  of the raw body with the app secret (`credentials["app_secret"]`); the subscription
  handshake (GET with hub.mode=subscribe) answers hub.challenge when hub.verify_token equals
  `credentials["verify_token"]`;
- any other network (generic): `X-Tamtam-Timestamp: <unix seconds>` and
  `X-Tamtam-Signature: sha256=<hex>`, an HMAC-SHA256 of `"<timestamp>.<body>"` with
  `credentials["webhook_secret"]`; a timestamp more than 5 minutes away is refused (replay).
  The body is `{"mentions": [{external_id, author, text, created_at, url, in_reply_to}]}`.

What a push carries becomes `IncomingMention`s with the same external ids the adapters use
when polling, so a mention that arrives both ways is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

from plugins.networks.base import IncomingMention

META = ("facebook", "instagram", "threads")
TOLERANCE_S = 300


class SignatureError(ValueError):
    """The push is not signed with this account's secret."""


def _hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(network: str, credentials: dict[str, Any], headers: dict[str, str], body: bytes,
           now: float | None = None) -> None:
    """Raise `SignatureError` unless the push is signed for this account."""
    headers = {key.lower(): value for key, value in headers.items()}
    if network == "telegram":
        secret = str(credentials.get("webhook_secret") or "")
        given = headers.get("x-telegram-bot-api-secret-token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            raise SignatureError("X-Telegram-Bot-Api-Secret-Token does not match")
        return
    if network in META:
        secret = str(credentials.get("app_secret") or "")
        given = headers.get("x-hub-signature-256", "")
        if not secret or not hmac.compare_digest(given, f"sha256={_hmac(secret, body)}"):
            raise SignatureError("X-Hub-Signature-256 does not match the body")
        return
    secret = str(credentials.get("webhook_secret") or "")
    stamp = headers.get("x-tamtam-timestamp", "")
    given = headers.get("x-tamtam-signature", "")
    try:
        age = abs((now if now is not None else time.time()) - int(stamp))
    except ValueError:
        raise SignatureError("X-Tamtam-Timestamp is missing or not a number") from None
    if age > TOLERANCE_S:
        raise SignatureError("X-Tamtam-Timestamp is too far from now (replay?)")
    expected = f"sha256={_hmac(secret, stamp.encode() + b'.' + body)}"
    if not secret or not hmac.compare_digest(given, expected):
        raise SignatureError("X-Tamtam-Signature does not match the body")


def sign_generic(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers a generic sender adds (also what tests send)."""
    signature = _hmac(secret, str(timestamp).encode() + b"." + body)
    return {"X-Tamtam-Timestamp": str(timestamp), "X-Tamtam-Signature": f"sha256={signature}"}


def _time(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def parse(network: str, payload: dict[str, Any]) -> list[IncomingMention]:
    if network == "telegram":
        return _telegram(payload)
    if network in META:
        return _meta(payload)
    return [
        IncomingMention(
            external_id=str(item["external_id"]), author=str(item.get("author", "")),
            text=str(item.get("text", "")), created_at=_time(item.get("created_at")),
            url=str(item.get("url", "")), in_reply_to=item.get("in_reply_to"),
        )
        for item in payload.get("mentions", [])
        if isinstance(item, dict) and item.get("external_id")
    ]


def _telegram(update: dict[str, Any]) -> list[IncomingMention]:
    message = update.get("message") or update.get("channel_post") or {}
    if not message.get("message_id"):
        return []
    sender = message.get("from") or {}
    replied = message.get("reply_to_message") or {}
    return [IncomingMention(
        external_id=str(message["message_id"]),
        author=sender.get("username") or sender.get("first_name")
        or (message.get("chat") or {}).get("title", ""),
        text=message.get("text") or message.get("caption") or "",
        created_at=_time(message.get("date")),
        in_reply_to=str(replied["message_id"]) if replied.get("message_id") else None,
    )]


def _meta(payload: dict[str, Any]) -> list[IncomingMention]:
    """Page `feed` changes (item=comment, verb=add) and Instagram/Threads `comments`,
    `mentions` and `replies` changes."""
    found: list[IncomingMention] = []
    for entry in payload.get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value") or {}
            if change.get("field") == "feed":
                if value.get("item") != "comment" or value.get("verb") not in ("add", None):
                    continue
                ident = value.get("comment_id")
                text = value.get("message", "")
                parent = value.get("parent_id") or value.get("post_id")
                author = (value.get("from") or {}).get("name", "")
            else:
                ident = value.get("id") or value.get("comment_id")
                text = value.get("text") or value.get("message", "")
                parent = value.get("parent_id") or (value.get("media") or {}).get("id")
                author = (value.get("from") or {}).get("username", "") or value.get("username", "")
            if ident:
                found.append(IncomingMention(
                    external_id=str(ident), author=author, text=text,
                    created_at=_time(value.get("created_time") or value.get("timestamp")),
                    in_reply_to=parent))
    return found
