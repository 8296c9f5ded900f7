"""How X, Bluesky and Mastodon count text, and the Bluesky facets built from it."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.networks.counting import (
    find_urls,
    grapheme_count,
    mastodon_length,
    utf8_length,
    x_weighted_length,
)
from plugins.networks.facets import build_facets

# --- X (twitter-text v3) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("", 0),
        ("« Déjà vu », c'est l'été !", 26),  # Latin-1 and accents weigh 1
        ("e\u0301", 1),  # a combining accent is composed (NFC) first: é
        ("q\u0303", 2),  # no precomposed form: two code points of weight 1
        ("日本語", 6),  # CJK weighs 2
        ("한국어", 6),
        ("\u2014\u201c\u201d", 3),  # em dash and curly quotes are in the weight-1 ranges
        ("\u2026", 2),  # the ellipsis U+2026 is not
        ("👍", 2),
        ("👍🏽", 2),  # skin tone: one emoji
        ("👩🏽\u200d💻", 2),  # ZWJ sequence with a skin tone
        ("👨\u200d👩\u200d👧\u200d👦", 2),  # family
        ("🇫🇷", 2),  # flag
        ("1️⃣", 2),  # keycap
        ("❤️", 2),  # text-default pictograph made emoji by VS16
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 2),  # Scotland
        ("Bravo 🎉🎉", 10),
    ],
)
def test_x_weighted_length(text, expected):
    assert x_weighted_length(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com", 23),
        ("http://a.co", 23),
        ("https://exemple.fr/" + "a" * 200, 23),  # a long URL still counts 23
        ("voir https://exemple.fr/page.", 5 + 23 + 1),  # the final dot is not part of it
        ("example.com/path", 23),  # no scheme, gTLD
        ("www.example.fr", 23),  # no scheme, subdomain and country code
        ("example.fr", 10),  # bare name.cc without path is not linked (twitter-text)
        ("example.fr/page", 23),
        ("file.py", 7),
        ("3.14", 4),
        ("me@example.com", 14),  # an address is not a link
        ("#example.com", 12),
        ("(https://ex.com/a_(b))", 1 + 23 + 1),  # balanced parentheses stay in the URL
        ("https://localhost:8080/x", 24),  # no top-level domain: not a link for X
    ],
)
def test_x_counts_each_url_as_23(text, expected):
    assert x_weighted_length(text) == expected


def test_x_counts_280_latin_and_140_cjk_as_the_limit():
    assert x_weighted_length("a" * 280) == 280
    assert x_weighted_length("漢" * 140) == 280


def test_find_urls_reports_offsets_and_text():
    text = "Lisez https://exemple.fr/été?q=1. et www.example.com !"
    urls = find_urls(text)
    assert [(u.text, text[u.start : u.end]) for u in urls] == [
        ("https://exemple.fr/été?q=1", "https://exemple.fr/été?q=1"),
        ("www.example.com", "www.example.com"),
    ]
    assert [u.text for u in find_urls(text, without_scheme=False)] == ["https://exemple.fr/été?q=1"]


SCHEME_URLS = [
    "https://example.com",
    "https://exemple.fr/un/très/long/chemin/" + "x" * 300,
    "http://sub.domain.org/path?q=1&r=2#frag",
    "https://t.co/abc",
]
URLS = st.sampled_from([*SCHEME_URLS, "example.com/path", "www.example.fr"])
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=60,
)


@given(TEXT, URLS)
def test_appending_a_url_after_a_space_adds_exactly_24_on_x(text, url):
    assert x_weighted_length(text + " " + url) == x_weighted_length(text) + 24


@given(TEXT, st.sampled_from(SCHEME_URLS))
def test_appending_a_url_after_a_space_adds_exactly_24_on_mastodon(text, url):
    assert mastodon_length(text + " " + url) == mastodon_length(text) + 24


@given(TEXT)
def test_x_length_of_text_without_urls_is_at_most_two_per_code_point(text):
    normalized = unicodedata.normalize("NFC", text)
    if find_urls(normalized):
        return
    assert x_weighted_length(text) <= 2 * len(normalized)
    assert (x_weighted_length(text) == 0) == (normalized == "")


@given(st.lists(st.sampled_from(["👍🏽", "👩🏽\u200d💻", "🇫🇷", "❤️", "😀"]), max_size=20))
def test_every_emoji_sequence_weighs_two_on_x(emojis):
    assert x_weighted_length("".join(emojis)) == 2 * len(emojis)


# --- Bluesky ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "graphemes", "utf8"),
    [
        ("abc", 3, 3),
        ("é", 1, 2),
        ("e\u0301", 1, 3),  # decomposed: one grapheme, three bytes
        ("👩🏽\u200d💻", 1, 15),
        ("🇫🇷", 1, 8),
        ("« été »", 7, 11),
        ("日本", 2, 6),
    ],
)
def test_bluesky_counts_graphemes_and_bytes(text, graphemes, utf8):
    assert grapheme_count(text) == graphemes
    assert utf8_length(text) == utf8


@given(st.text(max_size=50))
def test_graphemes_never_exceed_code_points(text):
    assert grapheme_count(text) <= len(text)
    assert (grapheme_count(text) == 0) == (text == "")


# --- Mastodon -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bonjour", 7),
        ("@alice@mastodon.social", 6),  # only @alice counts
        ("@alice", 6),
        ("salut @bob@exemple.fr !", 12),
        ("https://exemple.fr/" + "a" * 300, 23),
        ("exemple.fr/page", 15),  # Mastodon links only URLs with a scheme
        ("👩🏽\u200d💻", 1),  # graphemes
        ("e\u0301", 1),
        ("mail bob@exemple.fr", 19),  # not a mention: preceded by a letter
    ],
)
def test_mastodon_length(text, expected):
    assert mastodon_length(text) == expected


def test_mastodon_length_uses_the_instance_url_length():
    assert mastodon_length("https://exemple.fr/abc", url_length=30) == 30


# --- Bluesky facets -----------------------------------------------------------------------


def _slices(text: str, facets: list[dict]) -> list[tuple[str, str]]:
    raw = text.encode("utf-8")
    return [
        (
            facet["features"][0]["$type"].split("#")[1],
            raw[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode("utf-8"),
        )
        for facet in facets
    ]


def test_facets_use_utf8_byte_offsets_after_accents_and_emoji():
    text = "Été 🌞 « génial » #Fête2026! voir exemple.fr/page et @alice.test."
    facets = build_facets(text, lambda handle: "did:plc:alice" if handle == "alice.test" else None)
    assert _slices(text, facets) == [
        ("tag", "#Fête2026"),
        ("link", "exemple.fr/page"),
        ("mention", "@alice.test"),
    ]
    assert facets[0]["features"][0]["tag"] == "Fête2026"
    assert facets[1]["features"][0]["uri"] == "https://exemple.fr/page"
    assert facets[2]["features"][0]["did"] == "did:plc:alice"
    assert facets[0]["index"]["byteStart"] == len("Été 🌞 « génial » ".encode())


def test_unresolved_mentions_and_numeric_tags_get_no_facet():
    text = "@ghost.test #123 #ok"
    facets = build_facets(text, lambda handle: None)
    assert _slices(text, facets) == [("tag", "#ok")]


def test_a_hash_inside_a_url_is_not_a_tag():
    text = "https://exemple.fr/#section"
    assert _slices(text, build_facets(text)) == [("link", "https://exemple.fr/#section")]


def test_tags_longer_than_64_characters_get_no_facet():
    assert build_facets("#" + "a" * 65) == []
    assert len(build_facets("#" + "a" * 64)) == 1
