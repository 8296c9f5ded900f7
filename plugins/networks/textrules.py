"""Validation rules shared by every adapter: length, media count, types, sizes, alt text.

Adapters count text their own way (`NetworkAdapter.count`); this module turns the count and
the declared `Limits` into precise problems, e.g. "X: 291 of 280 characters, counted with
links as 23".
"""

from __future__ import annotations

from typing import Protocol

from plugins.networks.base import (
    PUBLISH_MEDIA,
    REPLIES,
    THREADS,
    Limits,
    OutgoingPost,
    ValidationProblem,
)


class TextRules(Protocol):
    """What validation needs from an adapter. A `NetworkAdapter` is one; so is a view of an
    adapter with limits read at run time (e.g. a Mastodon instance's own configuration)."""

    @property
    def limits(self) -> Limits: ...

    @property
    def display_name(self) -> str: ...

    def count(self, text: str) -> int: ...

    def supports(self, capability: str) -> bool: ...


def length_problem(adapter: TextRules, text: str, where: str) -> ValidationProblem | None:
    limits = adapter.limits
    length = adapter.count(text)
    if length > limits.max_length:
        return ValidationProblem(
            "too_long",
            f"{adapter.display_name}: {length} of {limits.max_length} characters, "
            f"{limits.counting}",
            where,
        )
    return None


def standard_problems(adapter: TextRules, post: OutgoingPost) -> list[ValidationProblem]:
    limits = adapter.limits
    name = adapter.display_name
    problems: list[ValidationProblem] = []
    if limits.text_required and not post.text.strip():
        problems.append(ValidationProblem("empty_text", f"{name}: the text is empty"))
    if (problem := length_problem(adapter, post.text, "text")) is not None:
        problems.append(problem)
    if post.thread:
        if not adapter.supports(THREADS):
            problems.append(ValidationProblem("no_threads", f"{name} has no threads", "thread"))
        for index, part in enumerate(post.thread):
            if (problem := length_problem(adapter, part, f"thread[{index}]")) is not None:
                problems.append(problem)
    if post.reply_to and not adapter.supports(REPLIES):
        problems.append(
            ValidationProblem("no_replies", f"{name} cannot reply through its API", "reply_to")
        )
    if post.media:
        problems.extend(_media_problems(adapter, post))
    elif not limits.text_required and not post.text.strip():
        problems.append(ValidationProblem("empty_post", f"{name}: a post needs text or media"))
    if limits.max_hashtags is not None:
        tags = hashtag_count(post.text)
        if tags > limits.max_hashtags:
            problems.append(
                ValidationProblem(
                    "too_many_hashtags", f"{name}: {tags} hashtags, at most {limits.max_hashtags}"
                )
            )
    return problems


def _media_problems(adapter: TextRules, post: OutgoingPost) -> list[ValidationProblem]:
    limits = adapter.limits
    name = adapter.display_name
    if not adapter.supports(PUBLISH_MEDIA):
        return [ValidationProblem("no_media", f"{name}: media cannot be published here", "media")]
    problems: list[ValidationProblem] = []
    if len(post.media) > limits.max_media:
        problems.append(
            ValidationProblem(
                "too_many_media",
                f"{name}: {len(post.media)} media, at most {limits.max_media}",
                "media",
            )
        )
    for index, media in enumerate(post.media):
        where = f"media[{index}]"
        if limits.media_types and media.mime_type not in limits.media_types:
            problems.append(
                ValidationProblem(
                    "media_type",
                    f"{name}: {media.mime_type} is not accepted ({', '.join(limits.media_types)})",
                    where,
                )
            )
        if (
            media.size_bytes is not None
            and limits.max_media_bytes
            and media.size_bytes > limits.max_media_bytes
        ):
            problems.append(
                ValidationProblem(
                    "media_too_large",
                    f"{name}: {media.size_bytes} bytes, at most {limits.max_media_bytes}",
                    where,
                )
            )
        if limits.alt_text_max is not None and len(media.alt_text) > limits.alt_text_max:
            problems.append(
                ValidationProblem(
                    "alt_text_too_long",
                    f"{name}: alt text of {len(media.alt_text)} characters, "
                    f"at most {limits.alt_text_max}",
                    where,
                )
            )
    return problems


def hashtag_count(text: str) -> int:
    import regex

    return len(regex.findall(r"(?<![\w#])#[\p{L}\p{N}_]+", text))
