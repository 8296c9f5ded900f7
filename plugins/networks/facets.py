"""Bluesky rich-text facets: links, mentions and hashtags at UTF-8 byte offsets.

Bluesky shows a link, mention or hashtag only where the record carries an
`app.bsky.richtext.facet` for it; the client builds them. Offsets are UTF-8 byte offsets,
`byteStart` inclusive and `byteEnd` exclusive. Detection follows the official client's
rules: mentions `@handle` with a dotted handle (kept only when the handle resolves to a DID),
tags `#word` of at most 64 characters without trailing punctuation, links with or without
scheme (a link without scheme gets `https://`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import regex

from plugins.networks.counting import find_urls

MAX_TAG_LENGTH = 64

_MENTION = regex.compile(
    r"(?:^|(?<=[\s(]))@(?P<handle>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+)(?![\w.-]*[\w-])",
    regex.IGNORECASE,
)
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    rf"(?:^|(?<=\s))[#＃](?P<tag>(?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+"
    rf"[^\s{_INVISIBLE}]*)"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")


def _byte_index(text: str, start: int, end: int) -> dict[str, int]:
    byte_start = len(text[:start].encode("utf-8"))
    return {"byteStart": byte_start, "byteEnd": byte_start + len(text[start:end].encode("utf-8"))}


def _facet(text: str, start: int, end: int, feature: dict[str, Any]) -> dict[str, Any]:
    return {
        "$type": "app.bsky.richtext.facet",
        "index": _byte_index(text, start, end),
        "features": [feature],
    }


def link_facets(text: str) -> list[dict[str, Any]]:
    facets = []
    for url in find_urls(text, without_scheme=True):
        uri = url.text if url.has_scheme else f"https://{url.text}"
        facets.append(
            _facet(text, url.start, url.end, {"$type": "app.bsky.richtext.facet#link", "uri": uri})
        )
    return facets


def mention_facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Mentions whose handle resolves to a DID; an unknown handle stays plain text."""
    facets = []
    for match in _MENTION.finditer(text):
        did = resolve_handle(match.group("handle").lower())
        if did:
            facets.append(
                _facet(
                    text,
                    match.start(),
                    match.end(),
                    {"$type": "app.bsky.richtext.facet#mention", "did": did},
                )
            )
    return facets


def tag_facets(text: str) -> list[dict[str, Any]]:
    facets = []
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group("tag"))
        if not tag or len(tag) > MAX_TAG_LENGTH:
            continue
        start = match.start()
        end = match.start("tag") + len(tag)
        facets.append(
            _facet(text, start, end, {"$type": "app.bsky.richtext.facet#tag", "tag": tag})
        )
    return facets


def build_facets(
    text: str, resolve_handle: Callable[[str], str | None] | None = None
) -> list[dict[str, Any]]:
    """Every facet of `text`, sorted by position; overlapping ones keep the first found.

    Links win over mentions and tags (an `@` or `#` inside a URL is part of the URL).
    """
    found = link_facets(text)
    if resolve_handle is not None:
        found += mention_facets(text, resolve_handle)
    found += tag_facets(text)
    kept: list[dict[str, Any]] = []
    for facet in found:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        if all(
            end <= other["index"]["byteStart"] or start >= other["index"]["byteEnd"]
            for other in kept
        ):
            kept.append(facet)
    return sorted(kept, key=lambda facet: facet["index"]["byteStart"])
