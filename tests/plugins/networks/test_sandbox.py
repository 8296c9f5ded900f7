"""The sandbox network, end to end: the adapter talks HTTP to the real sandbox server, run by
uvicorn on a free loopback port over a temporary SQLite database, so timeouts are real."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from plugins.networks import NetworkRegistry, hookspecs
from plugins.networks import sandbox as sandbox_plugin
from plugins.networks.base import (
    Account,
    AuthExpired,
    Media,
    OutgoingPost,
    Rejected,
    RetryLater,
)
from plugins.networks.sandbox import SandboxAdapter
from plugins.networks.sandbox_models import SandboxFault, SandboxPost
from services.api import sandbox as server
from services.api.deps import get_session
from shared import problems
from shared.db import Base, make_engine, make_session_factory

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Paris
CLIENT_TIMEOUT = 2.0  # generous: the machine may be loaded; the fault waits exceed it


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class RunningSandbox:
    url: str  # http://127.0.0.1:<port>
    clock: FakeClock
    session_factory: sessionmaker[Session]

    def account(self, handle: str = "cafe", **settings: Any) -> Account:
        return Account(id=f"acc-{handle}", handle=handle,
                       settings={"base_url": f"{self.url}/sandbox/api", **settings})

    def set_fault(self, **fault: Any) -> None:
        httpx.put(f"{self.url}/sandbox/api/faults", json=fault).raise_for_status()

    def stored_posts(self, handle: str = "cafe") -> int:
        with self.session_factory() as session:
            return session.scalar(select(func.count()).select_from(SandboxPost)
                                  .where(SandboxPost.handle == handle)) or 0


@contextmanager
def running_sandbox(database: Path, seed: str, clock: FakeClock) -> Iterator[RunningSandbox]:
    engine = make_engine(f"sqlite:///{database}")
    Base.metadata.create_all(engine, tables=[SandboxPost.__table__, SandboxFault.__table__])
    factory = make_session_factory(engine)

    def session() -> Iterator[Session]:
        with factory() as opened:
            yield opened

    app = FastAPI()
    problems.install(app)
    app.include_router(server.router)
    app.dependency_overrides[get_session] = session
    numbers = itertools.count(1)
    app.state.sandbox = server.SandboxConfig(  # ids known in advance: every run draws the same
        seed=seed, clock=clock, external_ids=lambda: f"sbx-{next(numbers):016x}")
    uvicorn_server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
        timeout_graceful_shutdown=1))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the sandbox server did not start"
        time.sleep(0.01)
    port = uvicorn_server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningSandbox(f"http://127.0.0.1:{port}", clock, factory)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path / "sandbox.db", "test-seed", FakeClock()) as running:
        yield running


@pytest.fixture
def adapter() -> Iterator[SandboxAdapter]:
    with httpx.Client(timeout=CLIENT_TIMEOUT) as http:
        yield SandboxAdapter(http=http)


def all_mentions(sandbox: RunningSandbox, handle: str = "cafe") -> list[dict[str, Any]]:
    """Every mention visible now, read from the start in pages of 7 (without the server's URL)."""
    found, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        url = f"{sandbox.url}/sandbox/api/accounts/{handle}/mentions"
        page = httpx.get(url, params=params).json()
        found.extend({k: v for k, v in item.items() if k != "url"} for item in page["items"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return found


# publishing ---------------------------------------------------------------------------


def test_publishes_text_and_answers_with_its_id_and_page(sandbox, adapter):
    post = OutgoingPost(text="Bonjour ☕", idempotency_key="p1")
    result = adapter.publish(post, sandbox.account())

    assert result.external_id.startswith("sbx-")
    assert result.part_ids == (result.external_id,)
    assert result.url == f"{sandbox.url}/sandbox/cafe#{result.external_id}"
    stored = httpx.get(f"{sandbox.url}/sandbox/api/accounts/cafe/posts/{result.external_id}").json()
    assert stored["text"] == "Bonjour ☕"
    assert stored["created_at"] == START.isoformat().replace("+00:00", "Z")


def test_a_thread_is_chained_as_replies_with_a_key_per_part(sandbox, adapter):
    post = OutgoingPost(text="1/3", thread=("2/3", "3/3"), idempotency_key="t1",
                        media=(Media("image/png", alt_text="a cup", url="https://img/cup.png"),))

    result = adapter.publish(post, sandbox.account())

    assert len(result.part_ids) == 3 and result.external_id == result.part_ids[0]
    with sandbox.session_factory() as session:
        parts = {p.external_id: p for p in session.scalars(select(SandboxPost))}
    first, second, third = (parts[i] for i in result.part_ids)
    assert [first.reply_to, second.reply_to, third.reply_to] == [None, first.external_id,
                                                                 second.external_id]
    assert [p.idempotency_key for p in (first, second, third)] == ["t1:0", "t1:1", "t1:2"]
    assert first.media[0]["alt_text"] == "a cup" and second.media == [] and third.media == []


def test_replies_to_a_post_or_a_mention_and_refuses_an_unknown_target(sandbox, adapter):
    account = sandbox.account()
    original = adapter.publish(OutgoingPost(text="Nouveau menu !"), account)

    reply = adapter.publish(OutgoingPost(text="Merci", reply_to=original.external_id), account)
    with sandbox.session_factory() as session:
        assert session.scalar(select(SandboxPost.reply_to).where(
            SandboxPost.external_id == reply.external_id)) == original.external_id

    sandbox.clock.advance(hours=6)
    mention = adapter.fetch_mentions(account, None).mentions[0]
    adapter.publish(OutgoingPost(text="Merci !", reply_to=mention.external_id), account)
    with pytest.raises(Rejected, match="reply_to"):
        adapter.publish(OutgoingPost(text="?", reply_to="sbx-doesnotexist"), account)


def test_the_same_idempotency_key_returns_the_same_post_and_stores_it_once(sandbox, adapter):
    account = sandbox.account()
    post = OutgoingPost(text="Une seule fois", thread=("vraiment",), idempotency_key="once")

    first = adapter.publish(post, account)
    again = adapter.publish(post, account)

    assert again == first
    assert sandbox.stored_posts() == 2  # the two parts, once each
    url = f"{sandbox.url}/sandbox/api/accounts/cafe/posts"
    raw = httpx.post(url, json={"text": "Une seule fois"}, headers={"Idempotency-Key": "once:0"})
    assert raw.status_code == 200 and raw.json()["external_id"] == first.external_id
    with pytest.raises(Rejected, match="Idempotency-Key"):
        adapter.publish(OutgoingPost(text="Autre chose", idempotency_key="once"), account)


def test_the_network_refuses_too_long_text_and_says_why(sandbox, adapter):
    with pytest.raises(Rejected, match="text"):
        adapter.publish(OutgoingPost(text="a" * 501), sandbox.account())
    assert sandbox.stored_posts() == 0


# failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "error"), [
    ("rate_limit", RetryLater),
    ("server_error", RetryLater),
    ("unauthorized", AuthExpired),
    ("rejected", Rejected),
])
def test_each_fault_maps_to_its_error_kind_for_the_next_requests(sandbox, adapter, mode, error):
    sandbox.set_fault(handle="cafe", mode=mode, count=2, wait_s=7)
    account = sandbox.account()

    for _ in range(2):
        with pytest.raises(error) as raised:
            adapter.publish(OutgoingPost(text="Bonjour", idempotency_key="k"), account)
    assert adapter.publish(OutgoingPost(text="Bonjour", idempotency_key="k"), account).external_id

    if mode == "rate_limit":
        assert raised.value.after == 7
    assert sandbox.stored_posts() == 1


def test_a_timeout_stores_nothing(sandbox, adapter):
    sandbox.set_fault(mode="timeout", count=1, wait_s=CLIENT_TIMEOUT + 0.4)
    post = OutgoingPost(text="Perdu ?", idempotency_key="lost")

    with pytest.raises(RetryLater, match="in time"):
        adapter.publish(post, sandbox.account())

    time.sleep(0.6)  # until the server has stopped sleeping
    assert adapter.find_published(post, sandbox.account()) is None
    assert sandbox.stored_posts() == 0


def test_accepted_then_timed_out_the_post_is_found_after_the_crash(sandbox, adapter):
    sandbox.set_fault(handle="cafe", mode="accept_then_timeout", count=1,
                      wait_s=CLIENT_TIMEOUT + 0.3)
    post = OutgoingPost(text="Publié malgré tout", idempotency_key="crash")
    account = sandbox.account()

    with pytest.raises(RetryLater, match="in time"):
        adapter.publish(post, account)
    found = adapter.find_published(post, account)

    assert found is not None and sandbox.stored_posts() == 1
    assert found.url.endswith(f"/sandbox/cafe#{found.external_id}")
    assert adapter.publish(post, account) == found  # a retry after all: still stored once
    assert sandbox.stored_posts() == 1


def test_a_thread_cut_by_a_timeout_is_not_found_until_every_part_is_out(sandbox, adapter):
    sandbox.set_fault(handle="cafe", mode="accept_then_timeout", count=1,
                      wait_s=CLIENT_TIMEOUT + 0.3)
    post = OutgoingPost(text="1/2", thread=("2/2",), idempotency_key="cut")
    account = sandbox.account()

    with pytest.raises(RetryLater):
        adapter.publish(post, account)
    assert adapter.find_published(post, account) is None  # only the first part got through

    published = adapter.publish(post, account)  # safe: the first part's key skips it
    assert adapter.find_published(post, account) == published
    assert sandbox.stored_posts() == 2


def test_a_handles_own_fault_wins_over_the_global_one(sandbox, adapter):
    sandbox.set_fault(mode="server_error")  # every handle, until cleared
    sandbox.set_fault(handle="calm", mode="none")

    with pytest.raises(RetryLater):
        adapter.publish(OutgoingPost(text="Bonjour"), sandbox.account("cafe"))
    assert adapter.publish(OutgoingPost(text="Bonjour"), sandbox.account("calm")).external_id

    faults = httpx.get(f"{sandbox.url}/sandbox/api/faults").json()
    assert {(f["handle"], f["mode"], f["remaining"]) for f in faults} == {
        (None, "server_error", -1), ("calm", "none", -1)}

    httpx.delete(f"{sandbox.url}/sandbox/api/faults").raise_for_status()
    assert adapter.publish(OutgoingPost(text="Bonjour"), sandbox.account("cafe")).external_id
    sandbox.set_fault(mode="rate_limit", count=1, wait_s=1)  # one request, whichever handle
    with pytest.raises(RetryLater):
        adapter.publish(OutgoingPost(text="Bonjour"), sandbox.account("calm"))
    assert adapter.publish(OutgoingPost(text="Bonjour"), sandbox.account("cafe")).external_id
    assert httpx.get(f"{sandbox.url}/sandbox/api/faults").json() == []


def test_read_faults_apply_to_mentions_and_metrics_when_asked(sandbox, adapter):
    account = sandbox.account()
    adapter.publish(OutgoingPost(text="Bonjour"), account)
    sandbox.set_fault(handle="cafe", mode="rate_limit", applies_to="read", count=2, wait_s=3)

    with pytest.raises(RetryLater) as raised:
        adapter.fetch_mentions(account, None)
    assert raised.value.after == 3
    with pytest.raises(RetryLater):
        adapter.fetch_metrics(account, ["sbx-x"])
    assert adapter.fetch_mentions(account, None).mentions == ()  # nothing happened yet


def test_an_unreachable_network_means_retry_later(adapter):
    with pytest.raises(RetryLater, match="unreachable"):
        adapter.publish(OutgoingPost(text="Allô ?"),
                        Account(id="a", handle="cafe", settings={"base_url": "http://127.0.0.1:9/x"}))


# mentions and engagement ---------------------------------------------------------------


def test_polling_mentions_has_no_gap_and_no_duplicate(sandbox, adapter):
    account = sandbox.account()
    polled, cursor = [], None
    for step in range(60):  # three posts, polled every 50 minutes for two days
        if step in (0, 7, 20):
            adapter.publish(OutgoingPost(text=f"Post {step}", language="fr"), account)
        sandbox.clock.advance(minutes=50)
        page = adapter.fetch_mentions(account, cursor)
        polled.extend(page.mentions)
        cursor = page.cursor

    ids = [m.external_id for m in polled]
    assert len(ids) > 20
    assert len(ids) == len(set(ids))
    assert ids == [m["external_id"] for m in all_mentions(sandbox)]
    assert adapter.fetch_mentions(account, cursor).mentions == ()  # caught up
    with pytest.raises(Rejected, match="cursor"):
        adapter.fetch_mentions(account, "not-a-cursor")
    assert [m.created_at for m in polled] == sorted(m.created_at for m in polled)
    assert all(m.created_at <= sandbox.clock.now for m in polled)
    replies = [m for m in polled if m.in_reply_to]
    assert replies and len(replies) < len(polled)
    assert all(m.text.startswith("@cafe ") for m in polled if not m.in_reply_to)


def test_mentions_mix_languages_and_tones(sandbox, adapter):
    account = sandbox.account()
    for index in range(5):
        adapter.publish(OutgoingPost(text=f"Annonce {index}"), account)
    sandbox.clock.advance(days=3)

    mentions = all_mentions(sandbox)
    assert {m["language"] for m in mentions} == {"fr", "en"}
    texts = {m["text"].removeprefix("@cafe ") for m in mentions}
    negatives = {t for lang in server.MENTION_TEXTS.values() for t in lang["negative"]}
    positives = {t for lang in server.MENTION_TEXTS.values() for t in lang["positive"]}
    assert texts & negatives and texts & positives


def test_the_same_seed_gives_the_same_mentions_and_metrics(tmp_path, adapter):
    database, clock = tmp_path / "shared.db", FakeClock()
    with running_sandbox(database, "seed-a", clock) as first:
        post = adapter.publish(OutgoingPost(text="Déterministe"), first.account())
        clock.advance(hours=30)
        mentions_a = all_mentions(first)
        metrics_a = adapter.fetch_metrics(first.account(), [post.external_id])
    with running_sandbox(database, "seed-a", clock) as again:
        assert all_mentions(again) == mentions_a
        assert adapter.fetch_metrics(again.account(), [post.external_id]) == metrics_a
    with running_sandbox(database, "seed-b", clock) as other:
        assert all_mentions(other) != mentions_a
        assert adapter.fetch_metrics(other.account(), [post.external_id]) != metrics_a


def test_metrics_grow_with_age_with_diminishing_returns(sandbox, adapter):
    account = sandbox.account()
    post = adapter.publish(OutgoingPost(text="Ça pousse"), account)
    seen = {}
    for hours in (0, 1, 6, 24, 48, 96, 170, 200):
        sandbox.clock.now = START + timedelta(hours=hours)
        (seen[hours],) = adapter.fetch_metrics(account, [post.external_id, "sbx-unknown"])

    likes = [seen[h].likes for h in sorted(seen)]
    assert likes == sorted(likes) and likes[0] == 0 and likes[-1] > 0
    assert seen[24].likes - seen[0].likes > seen[96].likes - seen[48].likes
    assert seen[170] == seen[200]  # nothing new after a week
    assert seen[200].impressions > seen[200].likes
    assert seen[200].replies == sum(
        1 for m in all_mentions(sandbox) if m["in_reply_to"] == post.external_id)


def test_activity_follows_the_authors_day():
    def by_local_hour(zone: str) -> list[int]:
        hours = [0] * 24
        for index in range(120):  # posts spread over five days, one an hour
            post = SandboxPost(external_id=f"sbx-{index:016x}", handle="h", timezone=zone,
                               created_at=START + timedelta(hours=index))
            week_later = post.created_at + timedelta(days=7)
            for mention in server.mentions_between(post, "rhythm", None, week_later):
                hours[mention.created_at.astimezone(server.zone_of(zone)).hour] += 1
        return hours

    paris, tokyo = by_local_hour("Europe/Paris"), by_local_hour("Asia/Tokyo")
    for hours in (paris, tokyo):
        evening, night = sum(hours[18:22]), sum(hours[1:5])
        assert evening > 5 * night


# the HTML page and the plugin ----------------------------------------------------------


def test_the_page_lists_posts_newest_first_in_french_or_english(sandbox, adapter):
    adapter.publish(OutgoingPost(text="Premier billet"), sandbox.account())
    sandbox.clock.advance(hours=3)
    adapter.publish(OutgoingPost(text="Deuxième billet"), sandbox.account())
    adapter.publish(OutgoingPost(text="Ailleurs"), sandbox.account("other"))
    sandbox.clock.advance(hours=3)

    french = httpx.get(f"{sandbox.url}/sandbox/cafe", params={"lang": "fr"}).text
    english = httpx.get(f"{sandbox.url}/sandbox/cafe",
                        headers={"Accept-Language": "de-DE, en-GB;q=0.8, fr;q=0.5"}).text
    everyone = httpx.get(f"{sandbox.url}/sandbox", headers={"Accept-Language": "fr-CA"}).text

    assert "Bac à sable — réseau de test local" in french and "j&#39;aime" in french
    assert "Sandbox — local test network" in english and "impressions" in english
    assert english.index("Deuxième billet") < english.index("Premier billet")
    assert "Ailleurs" not in english and "Ailleurs" in everyone and "Bac à sable" in everyone


def test_registers_through_the_network_hook_and_counts_code_points():
    manager = pluggy.PluginManager("tamtam.networks")
    manager.add_hookspecs(hookspecs)
    manager.register(sandbox_plugin)
    adapter = NetworkRegistry(manager).create("sandbox")

    assert isinstance(adapter, SandboxAdapter)
    assert adapter.describe()["display_name"] == "Sandbox (local test network)"
    assert adapter.supports("idempotency") and adapter.supports("lookup")
    assert adapter.count("👍🏽") == 2  # a thumbs-up with a skin tone: two code points
    (problem,) = adapter.validate(OutgoingPost(text="é" * 501))
    assert problem.code == "too_long" and "501 of 500" in problem.message
    assert adapter.validate(OutgoingPost(text="x", media=(Media("image/tiff"),) * 5))
