"""LinkedIn through the versioned REST Posts API.

Account: `credentials["access_token"]` (optional `refresh_token`, `client_id`,
`client_secret`); `settings["author_urn"]` (`urn:li:person:…` or `urn:li:organization:…`);
`settings["linkedin_version"]` (`YYYYMM`, default below; versions sunset about yearly).

- Every call: `Authorization: Bearer`, `LinkedIn-Version`, `X-Restli-Protocol-Version: 2.0.0`.
- Post: `POST /rest/posts` {author, commentary, visibility, distribution, lifecycleState,
  isReshareDisabledByAuthor} -> 201, the post URN in the `x-restli-id` header.
- Images: `POST /rest/images?action=initializeUpload` {initializeUploadRequest: {owner}} ->
  `value.uploadUrl`, `value.image`; `PUT` the bytes; then `content.media {id, altText}` for
  one image, `content.multiImage.images[]` for several.
- Commentary is "little" text: `\\ | { } @ [ ] ( ) < > # * _ ~` are escaped at publish time
  (unescaped, LinkedIn silently cuts the post at the first one). URLs, `#hashtags` and
  mention templates `@[Name](urn:li:…)` are kept as written so they still work.
- Reply: a comment, `POST /rest/socialActions/{post urn}/comments` {actor, object,
  message: {text}} (plain text, not little).
- Refresh: `POST https://www.linkedin.com/oauth/v2/accessToken` grant_type=refresh_token,
  only when the account holds a refresh token (LinkedIn issues them to approved partners
  only); otherwise `AuthExpired` (reconnect).
- Errors: 401 -> `AuthExpired`; 429 and 5xx -> `RetryLater` (LinkedIn sends no Retry-After;
  daily limits reset at 00:00 UTC); 422 DUPLICATE_POST and other 4xx -> `Rejected`.
- No threads, no mention reading (comment reading needs r_member_social, a restricted
  permission, or per-post polling), no metrics (Social Metadata response shape unconfirmed),
  no lookup.

Confirmed in official docs (learn.microsoft.com/linkedin): the required headers, the Posts
schema, organic MultiImage posts, the Images API upload, little format and its reserved
characters, the Comments API, refresh tokens for approved partners only. Documented-
unconfirmed ([3p], consistent): the `x-restli-id` header (the `id` of the body is read as a
fallback), 3,000 characters (counted here in UTF-16 code units, an emoji counts 2, before
escaping), 422 `DUPLICATE_POST`, at most 9 images in a multi-image post (conservative).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import regex

from plugins.networks.base import (
    PUBLISH_MEDIA,
    PUBLISH_TEXT,
    REFRESH,
    REPLIES,
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
from plugins.networks.edge import json_body, retry_after, send, utf16_length
from plugins.networks.hookspecs import hookimpl

API = "https://api.linkedin.com/rest"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"
DEFAULT_VERSION = "202605"

_RESERVED = regex.compile(r"[\\|{}@\[\]()<>#*_~]")
_KEEP = regex.compile(
    r"https?://\S+"  # URLs stay clickable
    r"|@\[[^\[\]]*\]\(urn:li:[a-zA-Z]+:[^()\s]+\)"  # mention templates
    r"|(?<![\w#])#[\p{L}\p{N}_]+"  # hashtags
)


def escape_little(text: str) -> str:
    """Escape little-format reserved characters, keeping URLs, hashtags and mentions."""
    pieces: list[str] = []
    position = 0
    for match in _KEEP.finditer(text):
        pieces.append(_RESERVED.sub(lambda m: "\\" + m.group(), text[position : match.start()]))
        pieces.append(match.group())
        position = match.end()
    pieces.append(_RESERVED.sub(lambda m: "\\" + m.group(), text[position:]))
    return "".join(pieces)


class LinkedInAdapter(NetworkAdapter):
    name = "linkedin"
    display_name = "LinkedIn"
    limits = Limits(
        max_length=3000,
        counting="counted in UTF-16 code units (an emoji counts 2), before escaping",
        max_media=9,
        media_types=("image/jpeg", "image/png", "image/gif"),
        max_media_bytes=5 * 1024 * 1024,
        text_required=False,
        capabilities=frozenset({PUBLISH_TEXT, PUBLISH_MEDIA, REPLIES, REFRESH}),
    )

    def count(self, text: str) -> int:
        return utf16_length(text)

    def _headers(self, account: Account) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {account.credentials['access_token']}",
            "LinkedIn-Version": str(account.settings.get("linkedin_version", DEFAULT_VERSION)),
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def _call(self, method: str, url: str, account: Account | None, **kwargs: Any) -> Any:
        headers = {**(self._headers(account) if account else {}), **kwargs.pop("headers", {})}
        response = send(
            self.http, method, url, network=self.display_name, headers=headers, **kwargs
        )
        if response.is_success:
            return response
        raise _error(response)

    # publishing -----------------------------------------------------------------------
    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        author = account.settings["author_urn"]
        if post.reply_to:
            return self._comment(post, account, author)
        body: dict[str, Any] = {
            "author": author,
            "commentary": escape_little(post.text),
            "visibility": account.settings.get("visibility", "PUBLIC"),
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        images = [self._upload_image(media, account, author) for media in post.media]
        if len(images) == 1:
            body["content"] = {"media": images[0]}
        elif images:
            body["content"] = {"multiImage": {"images": images}}
        response = self._call("POST", f"{API}/posts", account, json=body)
        urn = response.headers.get("x-restli-id") or json_body(response).get("id")
        if not urn:
            raise NetworkError("LinkedIn: the post was created but no id came back")
        return PublishResult(
            urn, url=f"https://www.linkedin.com/feed/update/{urn}/", part_ids=(urn,)
        )

    def _upload_image(self, media: Media, account: Account, owner: str) -> dict[str, str]:
        response = self._call(
            "POST",
            f"{API}/images",
            account,
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": owner}},
        )
        value = json_body(response).get("value", {})
        content = media.content
        if content is None:
            if not media.url:
                raise Rejected("LinkedIn: an image needs its bytes or a URL to read them from")
            content = self._call("GET", media.url, None).content
        # The upload URL is pre-signed; it takes the bearer token as well.
        self._call(
            "PUT",
            value["uploadUrl"],
            account,
            content=content,
            headers={"Content-Type": media.mime_type},
        )
        image: dict[str, str] = {"id": value["image"]}
        if media.alt_text:
            image["altText"] = media.alt_text
        return image

    def _comment(self, post: OutgoingPost, account: Account, author: str) -> PublishResult:
        target = post.reply_to or ""
        response = self._call(
            "POST",
            f"{API}/socialActions/{quote(target, safe='')}/comments",
            account,
            json={"actor": author, "object": target, "message": {"text": post.text}},
        )
        body = json_body(response)
        comment = response.headers.get("x-restli-id") or body.get("commentUrn") or body.get("id")
        if not comment:
            raise NetworkError("LinkedIn: the comment was created but no id came back")
        return PublishResult(str(comment), part_ids=(str(comment),))

    # authorization --------------------------------------------------------------------
    def refresh(self, account: Account) -> dict[str, Any]:
        credentials = account.credentials
        if not credentials.get("refresh_token"):
            raise AuthExpired(
                "LinkedIn: no refresh token (only approved partners get them); reconnect"
            )
        try:
            response = self._call(
                "POST",
                TOKEN_URL,
                None,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": credentials["refresh_token"],
                    "client_id": credentials.get("client_id", ""),
                    "client_secret": credentials.get("client_secret", ""),
                },
            )
        except Rejected as error:  # an expired or revoked refresh token: reconnect
            raise AuthExpired(error.reason) from None
        answer = json_body(response)
        if "access_token" not in answer:
            raise AuthExpired("LinkedIn: the refresh gave no token")
        refreshed = {
            **credentials,
            "access_token": answer["access_token"],
            "expires_in": answer.get("expires_in"),
        }
        if answer.get("refresh_token"):
            refreshed["refresh_token"] = answer["refresh_token"]
        return refreshed


def _error(response: Any) -> NetworkError:
    status = response.status_code
    body = json_body(response)
    body = body if isinstance(body, dict) else {}
    message = body.get("message") or body.get("error_description") or f"HTTP {status}"
    if status == 401 or body.get("error") == "invalid_grant":
        return AuthExpired(f"LinkedIn: {message}")
    if status == 429 or status >= 500:
        return RetryLater(f"LinkedIn: {message}", retry_after(response.headers))
    codes = [
        error.get("code")
        for error in (
            body.get("errorDetails", {}).get("inputErrors", []) + body.get("inputErrors", [])
        )
        if isinstance(error, dict)
    ]
    if "DUPLICATE_POST" in codes:
        return Rejected(f"LinkedIn: duplicate post ({message})")
    return Rejected(f"LinkedIn: {message}")


@hookimpl
def register_networks(register):  # type: ignore[no-untyped-def]
    register(LinkedInAdapter)
