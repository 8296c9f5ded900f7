"""RSS 2.0 and Atom feeds as trend sources, parsed with the standard library.

`xml.etree` is enough for the two formats (items are title, link, id and date); Python's
expat refuses external entities and limits entity expansion (billion laughs) since 3.7.1 /
expat 2.4, and the body is capped by `netguard.guarded_get` before it is parsed. Fetching
goes through `shared.netguard`, so a feed URL cannot reach a private address.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

ATOM = "{http://www.w3.org/2005/Atom}"
MAX_SEEN = 500


@dataclass(frozen=True)
class FeedItem:
    id: str
    title: str
    summary: str
    link: str
    published: datetime | None

    @property
    def text(self) -> str:
        return f"{self.title}. {self.summary}".strip(". ")


class FeedError(ValueError):
    pass


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(element: ElementTree.Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())[:1000]


def parse_feed(content: bytes) -> tuple[str, list[FeedItem]]:
    """The feed's title and its items (RSS 2.0 `<item>` or Atom `<entry>`)."""
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise FeedError(f"not a readable RSS or Atom feed ({error})") from None
    items: list[FeedItem] = []
    if root.tag == f"{ATOM}feed":
        title = _text(root.find(f"{ATOM}title"))
        for entry in root.iter(f"{ATOM}entry"):
            link_element = entry.find(f"{ATOM}link")
            link = link_element.get("href", "") if link_element is not None else ""
            items.append(_item(
                _text(entry.find(f"{ATOM}id")), _text(entry.find(f"{ATOM}title")),
                _text(entry.find(f"{ATOM}summary")) or _text(entry.find(f"{ATOM}content")), link,
                _date(_text(entry.find(f"{ATOM}published"))
                      or _text(entry.find(f"{ATOM}updated")))))
        return title, items
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise FeedError("neither an RSS 2.0 nor an Atom feed")
    for element in channel.iter("item"):
        items.append(_item(
            _text(element.find("guid")), _text(element.find("title")),
            _text(element.find("description")), _text(element.find("link")),
            _date(_text(element.find("pubDate")))))
    return _text(channel.find("title")), items


def _item(ident: str, title: str, summary: str, link: str, published: datetime | None) -> FeedItem:
    key = ident or link or hashlib.sha256(f"{title}|{summary}".encode()).hexdigest()[:32]
    return FeedItem(key[:300], title, summary, link, published)


def new_items(items: list[FeedItem], seen: list[str]) -> tuple[list[FeedItem], list[str]]:
    """Items not seen before, and the updated list of seen ids (the newest `MAX_SEEN`)."""
    known = set(seen)
    fresh = [item for item in items if item.id not in known]
    return fresh, (seen + [item.id for item in fresh])[-MAX_SEEN:]
