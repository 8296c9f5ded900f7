"""Making a variant fit a network: the text passes the network's own validator, with as many
of the ranked hashtags as the network's norms allow, fewer when space is short, then a
shorter text (sentences without a link go first, then words), or the variant is dropped
with the validator's reasons."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from plugins.networks.base import NetworkAdapter, OutgoingPost, ValidationProblem
from shared.events import Hashtag

_TRAILING_TAGS = re.compile(r"(?:\s*#[^\W_][\w]*)+\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_URL = re.compile(r"https?://\S+")
LENGTH_CODES = {"too_long", "too_many_hashtags"}
MIN_WORDS = 5


@dataclass(frozen=True)
class Fitted:
    text: str
    hashtags: list[Hashtag]
    shortened: bool = False


@dataclass(frozen=True)
class Dropped:
    reasons: list[str]


def split_trailing_hashtags(text: str) -> tuple[str, list[str]]:
    """A model may end its text with hashtags anyway: they join the candidates."""
    match = _TRAILING_TAGS.search(text)
    if not match or not match.group(0).strip():
        return text.strip(), []
    tags = [t.lstrip("#") for t in match.group(0).split()]
    return text[: match.start()].rstrip(), tags


def compose(body: str, tags: list[Hashtag]) -> str:
    return f"{body}\n\n{' '.join('#' + t.tag for t in tags)}" if tags else body


def _shorter_bodies(body: str) -> Iterator[str]:
    sentences = [s for s in _SENTENCE_END.split(body.strip()) if s]
    kept = list(sentences)
    # Drop, from the end, sentences that carry no link (the first one stays).
    for index in range(len(kept) - 1, 0, -1):
        if not _URL.search(kept[index]):
            del kept[index]
            yield " ".join(kept)
    links = _URL.findall(" ".join(kept))
    words = _URL.sub(" ", " ".join(kept)).split()
    for size in range(len(words) - 1, MIN_WORDS - 1, -1):
        head = " ".join(words[:size]).rstrip(" ,;:—-")
        yield " ".join([f"{head}…", *links])


def fit(
    adapter: NetworkAdapter,
    body: str,
    ranked: list[Hashtag],
    budget: int,
    language: str,
    reply_to: str | None = None,
) -> Fitted | Dropped:
    problems: list[ValidationProblem] = []

    def attempt(text_body: str, shortened: bool) -> Fitted | None:
        nonlocal problems
        for count in range(min(budget, len(ranked)), -1, -1):
            tags = ranked[:count]
            post = OutgoingPost(text=compose(text_body, tags), language=language, reply_to=reply_to)
            problems = adapter.validate(post)
            if not problems:
                return Fitted(post.text, tags, shortened)
            if any(p.code not in LENGTH_CODES for p in problems):
                return None
        return None

    fitted = attempt(body, False)
    if fitted is not None:
        return fitted
    if any(p.code not in LENGTH_CODES for p in problems):
        return Dropped([p.message for p in problems])
    first_problems = [p.message for p in problems]
    for shorter in _shorter_bodies(body):
        fitted = attempt(shorter, True)
        if fitted is not None:
            return fitted
    return Dropped(first_problems)
