"""How X, Bluesky and Mastodon count the length of a text.

- X (twitter-text configuration v3): text NFC-normalised first; each URL counts 23; each
  emoji (a whole sequence: skin tone, ZWJ family, flag, keycap) counts 2; any other code point
  counts 1 when it lies in U+0000–10FF, U+2000–200D, U+2010–201F or U+2032–2037, else 2.
  Links are found with or without a scheme, as twitter-text finds them.
- Bluesky: user-perceived characters (extended grapheme clusters), with URLs in full; the
  record also has a limit in UTF-8 bytes.
- Mastodon: graphemes, where each `http(s)://` URL counts as the instance's reserved URL
  length and a mention `@user@domain` counts as `@user`.

URL detection follows twitter-text's rules in simplified form: a scheme URL needs a dotted
domain; a URL without scheme needs an ASCII domain whose top-level domain is a common gTLD or
any two-letter code, is not preceded by `-_./`, and when it has no path is not a bare
`name.cc` (twitter-text's "short domain" rule; `t.co` excepted).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

X_URL_LENGTH = 23
X_MAX_LENGTH = 280
MASTODON_URL_LENGTH = 23

# twitter-text config v3: code point ranges that weigh 1 (all others weigh 2).
_X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

# A URL without scheme is linked only for these (and any two-letter country code).
_COMMON_GTLDS = """
    academy agency africa amsterdam app art asia berlin bio biz blog brussels bzh cat cloud club
    com company coop design dev digital edu email eus gal gov group info int jobs live london
    media mil mobi museum name net network news nyc one online org page paris pro quebec scot
    services shop site social solutions space store studio swiss tech tel tokyo top travel
    wales website wiki world xyz
""".split()
_GTLD = "|".join(sorted(_COMMON_GTLDS, key=len, reverse=True))
_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{N}\p{M}_-]*[\p{L}\p{N}\p{M}])?"
_ASCII_LABEL = r"[a-z0-9\p{Latin}](?:[a-z0-9\p{Latin}_-]*[a-z0-9\p{Latin}])?"
_TLD_END = r"(?![\p{L}\p{N}@+-])"
_PATH_CHARS = r"[\p{L}\p{N}\p{M}!*';:=+,.$/%#\[\]\-\u2013_~@|&()]"
_QUERY_CHARS = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"

_SCHEME_URL = regex.compile(
    rf"(?<![A-Za-z0-9@＠$#＃])(?P<url>https?://(?:{_LABEL}\.)+\p{{L}}[\p{{L}}\p{{N}}-]*{_TLD_END}"
    rf"(?P<rest>(?::[0-9]+)?(?:/{_PATH_CHARS}*)?(?:\?{_QUERY_CHARS}*)?))",
    regex.IGNORECASE,
)
_ANY_URL = regex.compile(
    rf"(?<![A-Za-z0-9@＠$#＃])(?P<url>(?P<scheme>https?://)?"
    rf"(?P<domain>(?:{_LABEL}\.)+(?:{_GTLD}|[a-z]{{2}}|xn--[a-z0-9-]+|\p{{L}}[\p{{L}}\p{{N}}-]*){_TLD_END})"
    rf"(?P<rest>(?::[0-9]+)?(?:/{_PATH_CHARS}*)?(?:\?{_QUERY_CHARS}*)?))",
    regex.IGNORECASE,
)
_BARE_DOMAIN = regex.compile(
    rf"(?:{_ASCII_LABEL}\.)+(?:{_GTLD}|[a-z]{{2}}|xn--[a-z0-9-]+)", regex.IGNORECASE
)
_SHORT_CC_DOMAIN = regex.compile(rf"{_ASCII_LABEL}\.[a-z]{{2}}", regex.IGNORECASE)
_PATH_END = regex.compile(r"[\p{L}\p{N}\p{M}+\-=_#/]", regex.IGNORECASE)
_QUERY_END = regex.compile(r"[a-z0-9\-_&=#/]", regex.IGNORECASE)

_EMOJI_PART = (
    r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}"
    r"|\p{Extended_Pictographic}\uFE0F|\p{Emoji_Presentation})"
)
_EMOJI = regex.compile(
    r"(?:\p{Regional_Indicator}{2}"  # flags
    r"|[0-9#*]\uFE0F?\u20E3"  # keycaps
    r"|\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F"  # subdivision flags
    rf"|{_EMOJI_PART}[\p{{Emoji_Modifier}}\uFE0F]*"
    r"(?:\u200D\p{Extended_Pictographic}[\p{Emoji_Modifier}\uFE0F]*)*)"
)
_X_TOKEN = regex.compile(rf"{_EMOJI.pattern}|.", regex.DOTALL)
_GRAPHEME = regex.compile(r"\X")
# Mastodon's mention: `@user` or `@user@domain`, not preceded by a word character or `/`.
_MASTODON_MENTION = regex.compile(
    r"(?<![\w/])@(?P<user>[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w)?", regex.IGNORECASE
)


@dataclass(frozen=True)
class UrlSpan:
    """A URL found in a text: code point offsets and the URL as written."""

    start: int
    end: int
    text: str

    @property
    def has_scheme(self) -> bool:
        return self.text.lower().startswith(("http://", "https://"))


def _trim_url(url: str, keep: int) -> str:
    """Drop trailing characters twitter-text does not let a URL end with (`.`, `,`, `)`...)."""
    while len(url) > keep:
        last = url[-1]
        in_query = "?" in url[keep:]
        if last == ")" and url.count("(", keep) >= url.count(")", keep):
            return url
        ending = _QUERY_END if in_query else _PATH_END
        if last != ")" and ending.fullmatch(last):
            return url
        url = url[:-1]
    return url


def find_urls(text: str, *, without_scheme: bool = True) -> list[UrlSpan]:
    """URLs in `text` as twitter-text finds them; `without_scheme=False` keeps http(s) only."""
    pattern = _ANY_URL if without_scheme else _SCHEME_URL
    spans: list[UrlSpan] = []
    for match in pattern.finditer(text):
        start = match.start("url")
        keep = match.start("rest") - start
        url = _trim_url(match.group("url"), keep)
        if without_scheme and not match.group("scheme"):
            if not _is_bare_url(text, start, match.group("domain"), url[keep:]):
                continue
        spans.append(UrlSpan(start, start + len(url), url))
    return spans


def _is_bare_url(text: str, start: int, domain: str, rest: str) -> bool:
    """Whether twitter-text links a URL written without scheme."""
    if start > 0 and text[start - 1] in "-_./":
        return False
    if _BARE_DOMAIN.fullmatch(domain) is None:
        return False
    has_path = rest.startswith(("/", "?"))
    short = _SHORT_CC_DOMAIN.fullmatch(domain) is not None and domain.lower() != "t.co"
    return has_path or not short


def _x_code_point_weight(char: str) -> int:
    code = ord(char)
    return 1 if any(low <= code <= high for low, high in _X_LIGHT_RANGES) else 2


def _x_plain_weight(text: str) -> int:
    total = 0
    for match in _X_TOKEN.finditer(text):
        token = match.group()
        total += 2 if len(token) > 1 or _EMOJI.fullmatch(token) else _x_code_point_weight(token)
    return total


def x_weighted_length(text: str, url_length: int = X_URL_LENGTH) -> int:
    """The length X counts (at most 280 per post), per twitter-text configuration v3."""
    normalized = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for url in find_urls(normalized, without_scheme=True):
        total += _x_plain_weight(normalized[position : url.start]) + url_length
        position = url.end
    return total + _x_plain_weight(normalized[position:])


def grapheme_count(text: str) -> int:
    """User-perceived characters (extended grapheme clusters), as Bluesky counts them."""
    return len(_GRAPHEME.findall(text))


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def mastodon_countable_text(text: str, url_length: int = MASTODON_URL_LENGTH) -> str:
    """The text Mastodon measures: URLs replaced by `url_length` x's, `@user@domain` by `@user`."""
    pieces: list[str] = []
    position = 0
    entities = sorted(
        [(url.start, url.end, "x" * url_length) for url in find_urls(text, without_scheme=False)]
        + [(m.start(), m.end(), "@" + m.group("user")) for m in _MASTODON_MENTION.finditer(text)]
    )
    for start, end, replacement in entities:
        if start < position:  # overlapping entity (a mention inside a URL): the URL wins
            continue
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def mastodon_length(text: str, url_length: int = MASTODON_URL_LENGTH) -> int:
    return grapheme_count(mastodon_countable_text(text, url_length))
