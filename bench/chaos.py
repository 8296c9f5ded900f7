"""`make chaos`: a bounded fault scenario on this machine, with two replicas of publish and ingest.

    python -m bench.chaos [--posts 2000] [--accounts 20] [--minutes 3] [--seed N] ...

What it does, all under `var/chaos/` (wiped at each run):
1. starts its OWN local Kafka broker (127.0.0.1:19092, controller 19093; never the shared
   one on 9092), unless KAFKA_BOOTSTRAP_SERVERS is set, in which case it uses that cluster
   and skips the broker restart;
2. creates its topics with a fresh prefix and `--partitions` partitions, migrates its own
   SQLite database (or a fresh PostgreSQL database with --postgres), and creates one agency,
   `--brands` brands and `--accounts` sandbox accounts (no spacing between posts, so the
   due times are the ones asked for);
3. starts the api process (it serves the sandbox network), two publish replicas and two
   ingest replicas, each with its own health port and log under var/chaos/logs/;
4. produces one `posts.approved` per post (text "chaos #i <post id>"), each a little before
   its due time, the due times spread over `--minutes`;
5. meanwhile SIGKILLs publish and ingest replicas at random moments (one at a time, each
   restarted after longer than the consumer session timeout, so its partitions move to the
   other replica first), restarts the broker once, and turns sandbox faults on for a while
   (rate_limit, server_error, timeout, accept_then_timeout on some handles), then clears them;
6. waits (bounded) until every post is published or failed, and prints: published once,
   published twice (sandbox rows per post text > 1, or two external ids), lost (neither
   published nor failed), failed with their reasons, dead-lettered messages (the prefix's
   tamtam.dlq.* topics), and the partition moves seen in the replicas' logs and in the
   consumer groups' descriptions. It exits 1 if a post was duplicated or lost.

The last line is `BENCH_RESULT {json}` (bench/common.py), as for `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, inspect, select

from bench.chaos_observe import (
    GroupMonitor,
    OutcomeReader,
    partitions_by_life,
    read_dead_letters,
)
from bench.chaos_procs import Replica, free_port
from bench.common import report
from shared import localkafka, migrate
from shared.bus import ensure_topics, make_producer
from shared.config import ROOT, Settings
from shared.db import (
    Base,
    import_all_models,
    make_engine,
    make_session_factory,
    new_id,
    transaction,
)
from shared.events import PostApproved, PostFailed, PostPublished, new_event, topic_for
from shared.models import Brand, SocialAccount
from shared.runner import group_id

WORKDIR = ROOT / "var" / "chaos"
CHAOS_BROKER_PORT = 19092
CHAOS_CONTROLLER_PORT = 19093
SHOWN_TOPICS = ("tamtam.posts.approved", "tamtam.posts.due", "tamtam.posts.published")
FAULT_MODES = ("rate_limit", "server_error", "timeout", "accept_then_timeout")
CONSUMER_SESSION_TIMEOUT_S = 10  # shared/runner.py session_timeout_ms


def say(message: str) -> None:
    print(f"chaos | {time.strftime('%H:%M:%S')} {message}", flush=True)


@dataclass
class ChaosConfig:
    posts: int = 2000
    accounts: int = 20
    brands: int = 5
    minutes: float = 3.0
    partitions: int = 6
    publish_replicas: int = 2
    ingest_replicas: int = 2
    publish_kills: int = 4
    ingest_kills: int = 2
    broker_restart: bool = True
    faults: tuple[str, ...] = FAULT_MODES
    fault_seconds: float = 30.0
    # A timeout must outlast the adapters' HTTP timeout (20 s) to be one; each costs the
    # replica that meets it that long, so only `timeout_count` requests per handle suffer it.
    timeout_wait_s: float = 22.0
    timeout_count: int = 2
    restart_delay_s: tuple[float, float] = (CONSUMER_SESSION_TIMEOUT_S + 2.0,
                                            CONSUMER_SESSION_TIMEOUT_S + 8.0)
    lead_s: float = 20.0  # an approval is sent this long before its due time
    warmup_s: float = 15.0  # from the first approval to the first due time
    settle_timeout_s: float = 600.0  # after the window, how long to wait for the last outcomes
    seed: int | None = None
    workdir: Path = WORKDIR
    bootstrap: str | None = None  # an existing broker/cluster: nothing started, no restart
    database_url: str | None = None
    postgres_admin_url: str | None = None  # create (and drop) a fresh database there
    handler_max_attempts: int = 3
    # Ingest polls each sandbox account's mentions this often (metrics 5x less often). The
    # sandbox's simulated engagement changes at every poll, so each poll of metrics sends one
    # metrics.observed per published post, which publish consumes too: at the sandbox's
    # default 10 s, 2,000 posts make ~40 events/s, more than this machine's publish replicas
    # take, and posts.due waits behind them. 60 s is the interval of most real networks.
    sandbox_poll_s: float = 60.0
    # A replica whose consumer thread died (the process lives on, /readyz still says ready)
    # is restarted, as an orchestrator with a consumer liveness check would; each death is
    # reported. False: leave it, and see what that costs.
    heal: bool = True


@dataclass
class Action:
    at: float  # seconds after the start of the window
    kind: str  # kill-publish, kill-ingest, broker-restart, faults-on, faults-off
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlannedPost:
    index: int
    post_id: str
    account_id: str
    brand_id: str
    handle: str
    text: str
    publish_at: datetime
    send_at: float  # unix time


class Scenario:
    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.random = random.Random(config.seed)
        self.workdir = config.workdir
        self.logs = self.workdir / "logs"
        self.broker: localkafka.LocalBroker | None = None
        self.owns_broker = False
        self.replicas: dict[str, list[Replica]] = {}
        self.api: Replica | None = None
        self.timeline: list[dict[str, Any]] = []  # what the chaos thread did, when
        self.unplanned_exits: list[dict[str, Any]] = []
        self.expected_down: set[str] = set()
        self.lock = threading.Lock()
        self.stop_chaos = threading.Event()
        self.fallback_tables: list[str] = []
        self.posts: list[PlannedPost] = []
        self.t0 = 0.0
        self.created_database: str | None = None
        self.group_monitor: GroupMonitor | None = None
        self.log_offsets: dict[str, int] = {}
        self.consumer_deaths: list[dict[str, Any]] = []

    # --- set-up -----------------------------------------------------------------------------

    def prepare_broker(self) -> str:
        if self.config.bootstrap:
            say(f"using the broker at {self.config.bootstrap}; the broker restart is skipped")
            return self.config.bootstrap
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
            say(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}: using that cluster; the broker restart "
                "is skipped (the harness restarts only a broker it owns)")
            return bootstrap
        self.broker = localkafka.LocalBroker(home=self.workdir / "kafka", port=CHAOS_BROKER_PORT,
                                             controller_port=CHAOS_CONTROLLER_PORT)
        if localkafka.port_open("127.0.0.1", CHAOS_BROKER_PORT):
            raise RuntimeError(f"port {CHAOS_BROKER_PORT} is taken (a chaos run still going?)")
        say(f"starting the scenario's own broker on {self.broker.bootstrap} "
            f"(home {self.broker.home})...")
        self.owns_broker = localkafka.start(self.broker)
        if not self.owns_broker:
            raise RuntimeError(f"a broker already answers on {self.broker.bootstrap}")
        return self.broker.bootstrap

    def prepare_database(self) -> str:
        if self.config.database_url:
            return self.config.database_url
        if self.config.postgres_admin_url:
            return self._create_postgres_database(self.config.postgres_admin_url)
        return f"sqlite:///{self.workdir / 'chaos.db'}"

    def _create_postgres_database(self, admin_url: str) -> str:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"tamtam_chaos_{uuid.uuid4().hex[:8]}"
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created_database = name
        return make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def _drop_postgres_database(self) -> None:
        if not (self.created_database and self.config.postgres_admin_url):
            return
        from sqlalchemy import create_engine, text

        engine = create_engine(self.config.postgres_admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.created_database}" '
                                    "WITH (FORCE)"))
        engine.dispose()

    def migrate(self, url: str) -> None:
        migrate.upgrade(url)
        import_all_models()
        import_table_modules()
        engine = make_engine(url)
        try:
            existing = set(inspect(engine).get_table_names())
            missing = [t for t in Base.metadata.sorted_tables if t.name not in existing]
            if missing:
                # The Alembic history does not have the new services' tables yet.
                Base.metadata.create_all(engine, tables=missing)
                self.fallback_tables = [t.name for t in missing]
                say(f"migrations lack {len(missing)} tables; created them from the models: "
                    f"{', '.join(self.fallback_tables)}")
        finally:
            engine.dispose()

    def seed_tenant(self, url: str, sandbox_url: str) -> list[SocialAccount]:
        from services.api.keys import create_agency

        engine = make_engine(url)
        try:
            with transaction(make_session_factory(engine)) as session:
                agency, _ = create_agency(session, "Chaos agency")
                brands = []
                for number in range(max(1, min(self.config.brands, self.config.accounts))):
                    brand = Brand(agency_id=agency.id, name=f"Chaos brand {number}",
                                  timezone="Europe/Paris")
                    session.add(brand)
                    brands.append(brand)
                session.flush()
                accounts = []
                for number in range(self.config.accounts):
                    account = SocialAccount(
                        agency_id=agency.id, brand_id=brands[number % len(brands)].id,
                        network="sandbox", handle=f"chaos-{number:02d}",
                        display_name=f"Chaos {number}",
                        settings={"base_url": sandbox_url, "min_spacing_minutes": 0,
                                  "timezone": "Europe/Paris"},
                    )
                    session.add(account)
                    accounts.append(account)
                session.flush()
                return accounts
        finally:
            engine.dispose()

    def plan_posts(self, accounts: list[SocialAccount]) -> None:
        window = self.config.minutes * 60
        now = time.time()
        self.t0 = now + self.config.warmup_s
        for index in range(self.config.posts):
            account = accounts[index % len(accounts)]
            due = self.t0 + window * index / max(1, self.config.posts)
            post_id = new_id()
            self.posts.append(PlannedPost(
                index=index, post_id=post_id, account_id=account.id, brand_id=account.brand_id,
                handle=account.handle, text=f"chaos #{index} {post_id}",
                publish_at=datetime.fromtimestamp(due, UTC),
                send_at=max(now, due - self.config.lead_s),
            ))

    def plan_chaos(self) -> list[Action]:
        window = self.config.minutes * 60
        actions: list[Action] = []

        def moments(count: int, low: float, high: float) -> list[float]:
            return sorted(self.random.uniform(low, high) for _ in range(count))

        for at in moments(self.config.publish_kills, 0.05 * window, 0.9 * window):
            actions.append(Action(at, "kill-publish"))
        if self.replicas.get("ingest"):
            for at in moments(self.config.ingest_kills, 0.05 * window, 0.9 * window):
                actions.append(Action(at, "kill-ingest"))
        if self.owns_broker and self.config.broker_restart:
            actions.append(Action(self.random.uniform(0.4, 0.6) * window, "broker-restart"))
        if self.config.faults:
            start = self.random.uniform(0.1, 0.3) * window
            actions.append(Action(start, "faults-on"))
            actions.append(Action(start + self.config.fault_seconds, "faults-off"))
        return sorted(actions, key=lambda action: action.at)

    # --- processes --------------------------------------------------------------------------

    def start_services(self, settings: Settings) -> None:
        self.api = Replica("api", 1, settings.api_port, settings, self.logs).start()
        for service, count in (("publish", self.config.publish_replicas),
                               ("ingest", self.config.ingest_replicas)):
            self.replicas[service] = [
                Replica(service, number, free_port(), settings, self.logs).start()
                for number in range(1, count + 1)
            ]
        for replica in [self.api, *self.all_replicas()]:
            if not replica.wait_ready(120):
                raise RuntimeError(f"{replica.name} is not ready: {replica.tail()}")
        say("running: api on :{} (sandbox), {}".format(
            settings.api_port, ", ".join(f"{r.name} on :{r.port}" for r in self.all_replicas())))

    def all_replicas(self) -> list[Replica]:
        return [replica for replicas in self.replicas.values() for replica in replicas]

    def stop_services(self) -> None:
        for replica in self.all_replicas() + ([self.api] if self.api else []):
            if replica.alive():
                replica.stop(timeout=25)

    def consumer_died(self, replica: Replica) -> str | None:
        """The error of a `consumer stopped on an error` line written since the last look."""
        offset = self.log_offsets.get(replica.name, 0)
        try:
            with open(replica.log_path, "rb") as log:
                log.seek(offset)
                chunk = log.read()
        except FileNotFoundError:
            return None
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.log_offsets[replica.name] = offset + len(complete)
        for raw in complete.splitlines():
            if b'"consumer stopped on an error"' in raw:
                try:
                    exception = str(json.loads(raw).get("exception", ""))
                except ValueError:
                    exception = ""
                return _short(exception.strip().splitlines()[-1] if exception.strip() else "?")
        return None

    def watch_replicas(self) -> None:
        """Restart a replica that died on its own (the harness did not kill it), and one
        whose consumer thread died (with `heal`)."""
        with self.lock:
            for replica in self.all_replicas() + ([self.api] if self.api else []):
                if replica.name in self.expected_down:
                    continue
                error = self.consumer_died(replica)
                if error and replica.alive():
                    death = {"replica": replica.name, "life": replica.life,
                             "at_s": round(time.time() - self.t0, 1), "error": error,
                             "healed": self.config.heal}
                    self.consumer_deaths.append(death)
                    self.record("consumer-died", replica=replica.name, life=replica.life,
                                error=error, restarting=self.config.heal)
                    if self.config.heal:
                        replica.kill()
                        replica.start()
                    continue
                if replica.process is None or replica.alive():
                    continue
                code = replica.process.returncode
                replica._ended(f"exited {code}")
                self.unplanned_exits.append({"replica": replica.name, "code": code,
                                             "at_s": round(time.time() - self.t0, 1),
                                             "tail": replica.tail(600)})
                say(f"{replica.name} exited on its own (code {code}); restarting it")
                replica.start()

    # --- chaos ------------------------------------------------------------------------------

    def record(self, kind: str, **detail: Any) -> None:
        entry = {"at_s": round(time.time() - self.t0, 1), "unix": time.time(), "kind": kind,
                 **detail}
        self.timeline.append(entry)
        say(f"[+{entry['at_s']:.0f}s] {kind} {' '.join(f'{k}={v}' for k, v in detail.items())}")

    def run_chaos(self, actions: list[Action], api_url: str, handles: list[str]) -> None:
        faults_on_at: float | None = None
        for action in actions:
            due = self.t0 + action.at
            if action.kind == "faults-off" and faults_on_at is not None:
                # a kill before it may have delayed faults-on: keep the window's length
                due = max(due, faults_on_at + self.config.fault_seconds)
            wait = due - time.time()
            if wait > 0 and self.stop_chaos.wait(wait):
                return
            if self.stop_chaos.is_set():
                return
            try:
                if action.kind.startswith("kill-"):
                    self.kill_and_restart(action.kind.removeprefix("kill-"))
                elif action.kind == "broker-restart":
                    self.restart_broker()
                elif action.kind == "faults-on":
                    faults_on_at = time.time()
                    self.faults_on(api_url, handles)
                elif action.kind == "faults-off":
                    self.faults_off(api_url)
            except Exception as error:  # one failed action must not end the scenario
                self.record(f"{action.kind}-error", error=f"{type(error).__name__}: {error}")

    def kill_and_restart(self, service: str) -> None:
        with self.lock:
            candidates = [r for r in self.replicas.get(service, []) if r.alive()]
            if not candidates:
                return
            victim = self.random.choice(candidates)
            self.expected_down.add(victim.name)
            victim.kill()
        self.record("SIGKILL", replica=victim.name, life=victim.life)
        delay = self.random.uniform(*self.config.restart_delay_s)
        if self.stop_chaos.wait(delay):
            delay = 0
        with self.lock:
            victim.start()
            self.expected_down.discard(victim.name)
        self.record("restart", replica=victim.name, life=victim.life, after_s=round(delay, 1))
        try:
            ready = victim.wait_ready(90)
        except RuntimeError:
            ready = False  # died at once: the watchdog restarts it
        if ready:
            self.record("ready", replica=victim.name, life=victim.life)

    def restart_broker(self) -> None:
        assert self.broker is not None
        self.record("broker-stop", broker=self.broker.bootstrap)
        started = time.monotonic()
        localkafka.stop(self.broker)
        stopped = time.monotonic()
        self.stop_chaos.wait(3)
        localkafka.start(self.broker)
        self.record("broker-started", stop_s=round(stopped - started, 1),
                    down_s=round(time.monotonic() - stopped, 1))

    def faults_on(self, api_url: str, handles: list[str]) -> None:
        set_faults = []
        for handle, mode in zip(handles, self.config.faults, strict=False):
            body: dict[str, Any] = {"handle": handle, "mode": mode, "applies_to": "publish"}
            if mode == "rate_limit":
                body.update(wait_s=2)
            elif mode in ("timeout", "accept_then_timeout"):
                body.update(wait_s=self.config.timeout_wait_s, count=self.config.timeout_count)
            response = httpx.put(f"{api_url}/sandbox/api/faults", json=body, timeout=10)
            response.raise_for_status()
            set_faults.append(f"{handle}:{mode}")
        self.record("faults-on", faults=",".join(set_faults))

    def faults_off(self, api_url: str) -> None:
        left = httpx.get(f"{api_url}/sandbox/api/faults", timeout=10).json()
        httpx.delete(f"{api_url}/sandbox/api/faults", timeout=10).raise_for_status()
        self.record("faults-off", still_set=len(left))

    # --- producing ------------------------------------------------------------------------

    def produce_approvals(self, settings: Settings, tenant: str) -> None:
        producer = make_producer(settings, client_id="chaos-review")
        topic = topic_for(PostApproved.type, settings.topic_prefix)
        pending = sorted(self.posts, key=lambda post: post.send_at)
        sent = 0
        try:
            while sent < len(pending) and not self.stop_chaos.is_set():
                now = time.time()
                batch = []
                while (sent + len(batch) < len(pending)
                       and pending[sent + len(batch)].send_at <= now):
                    batch.append(pending[sent + len(batch)])
                for post in batch:
                    event = new_event(PostApproved(
                        brand_id=post.brand_id, post_id=post.post_id, account_id=post.account_id,
                        network="sandbox", text=post.text, publish_at=post.publish_at,
                    ), tenant=tenant, source="review")
                    while True:  # the broker may be restarting: the send is retried
                        try:
                            producer.send(topic, key=event.key.encode(), value=event.to_bytes())
                            break
                        except Exception as error:  # buffer full / metadata timeout
                            say(f"approval send failed ({type(error).__name__}); retrying")
                            time.sleep(1)
                if batch:
                    producer.flush()
                    sent += len(batch)
                time.sleep(0.2)
        finally:
            producer.flush()
            producer.close()

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        config = self.config
        started = time.monotonic()
        if self.workdir.exists():
            old = localkafka.LocalBroker(home=self.workdir / "kafka", port=CHAOS_BROKER_PORT,
                                         controller_port=CHAOS_CONTROLLER_PORT)
            if not config.bootstrap and localkafka.running_pid(old):
                localkafka.stop(old)
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        outcomes = groups = None
        try:
            bootstrap = self.prepare_broker()
            database_url = self.prepare_database()
            prefix = f"chaos{uuid.uuid4().hex[:6]}."
            settings = Settings(
                database_url=database_url, kafka_bootstrap_servers=bootstrap, topic_prefix=prefix,
                topic_partitions=config.partitions,
                handler_max_attempts=config.handler_max_attempts,
                secret_keys=Fernet.generate_key().decode(), demo=False, log_json=True,
                api_port=free_port(), ingest_port=free_port(), publish_port=free_port(),
                review_port=free_port(), generation_port=free_port(),
                ingest_poll_intervals={"sandbox": config.sandbox_poll_s},
            )
            ensure_topics(settings)
            say(f"topics ready: prefix {prefix}, {config.partitions} partitions; "
                f"database {database_url.split('@')[-1]}")
            self.migrate(database_url)
            api_url = f"http://127.0.0.1:{settings.api_port}"
            accounts = self.seed_tenant(database_url, f"{api_url}/sandbox/api")
            tenant = accounts[0].agency_id
            self.start_services(settings)

            groups = GroupMonitor(bootstrap, [group_id(settings, "publish"),
                                              group_id(settings, "ingest")], prefix)
            groups.start()
            self.group_monitor = groups
            outcomes = OutcomeReader(bootstrap, [topic_for(PostPublished.type, prefix),
                                                 topic_for(PostFailed.type, prefix)])
            outcomes.start()

            self.plan_posts(accounts)
            actions = self.plan_chaos()
            say(f"{config.posts} posts on {config.accounts} accounts, due from +0 to "
                f"+{config.minutes * 60:.0f}s; chaos: "
                + ", ".join(f"{a.kind}@{a.at:.0f}s" for a in actions))
            producer = threading.Thread(target=self.produce_approvals, args=(settings, tenant),
                                        name="chaos-producer", daemon=True)
            chaos = threading.Thread(target=self.run_chaos,
                                     args=(actions, api_url, [a.handle for a in accounts]),
                                     name="chaos-actions", daemon=True)
            producer.start()
            chaos.start()

            post_ids = [post.post_id for post in self.posts]
            deadline = self.t0 + config.minutes * 60 + config.settle_timeout_s
            last_said = 0.0
            missing = post_ids
            while time.time() < deadline:
                self.watch_replicas()
                missing = outcomes.missing(post_ids)
                if not missing and not producer.is_alive() and not chaos.is_alive():
                    break
                if time.time() - last_said > 15:
                    last_said = time.time()
                    say(f"[+{time.time() - self.t0:.0f}s] {len(post_ids) - len(missing)}/"
                        f"{len(post_ids)} posts have an outcome")
                time.sleep(1)
            timed_out = bool(missing)
            if timed_out:
                say(f"timed out with {len(missing)} posts without an outcome")
            self.stop_chaos.set()
            chaos.join(timeout=120)
            producer.join(timeout=30)
            time.sleep(5)  # a late second publication would show now
            with self.lock:
                self.stop_services()
            outcomes.stop()
            groups.stop()
            dead_letters = read_dead_letters(bootstrap, prefix)
            result = self.results(database_url, outcomes, groups, dead_letters, prefix)
            result.update(timed_out=timed_out, seconds=round(time.monotonic() - started, 1),
                          outcome_reader_error=outcomes.error)
            return result
        finally:
            self.stop_chaos.set()
            with self.lock:
                self.stop_services()
            if outcomes is not None and outcomes.is_alive():
                outcomes.stop()
            if groups is not None and groups.is_alive():
                groups.stop()
            if self.owns_broker and self.broker is not None:
                localkafka.stop(self.broker)
            self._drop_postgres_database()

    # --- results ------------------------------------------------------------------------------

    def sandbox_rows(self, database_url: str) -> tuple[Counter[str], set[str], int]:
        from plugins.networks.sandbox_models import SandboxPost

        engine = make_engine(database_url)
        try:
            with make_session_factory(engine)() as session:
                by_text = Counter(dict(session.execute(
                    select(SandboxPost.text, func.count()).group_by(SandboxPost.text)).all()))
                keys = Counter(dict(session.execute(
                    select(SandboxPost.idempotency_key, func.count())
                    .group_by(SandboxPost.idempotency_key)).all()))
                total = session.scalar(select(func.count()).select_from(SandboxPost)) or 0
        finally:
            engine.dispose()
        repeated_keys = {str(key) for key, count in keys.items() if key and count > 1}
        return by_text, repeated_keys, total

    def publish_states(self, database_url: str, post_ids: list[str]) -> dict[str, int]:
        """Where the publish service's own table left the posts without an outcome
        (`no row`: it never handled their approval)."""
        if not post_ids:
            return {}
        from services.publish.models import ScheduledPost

        engine = make_engine(database_url)
        try:
            with make_session_factory(engine)() as session:
                states = dict(session.execute(select(ScheduledPost.id, ScheduledPost.status)
                                              .where(ScheduledPost.id.in_(post_ids))).all())
        except Exception as error:  # the publish tables may be missing or changing
            return {f"unknown ({type(error).__name__})": len(post_ids)}
        finally:
            engine.dispose()
        return dict(Counter(states.get(post_id, "no row") for post_id in post_ids))

    def results(self, database_url: str, reader: OutcomeReader, groups: GroupMonitor,
                dead_letters: dict[str, list[dict[str, str]]], prefix: str) -> dict[str, Any]:
        by_text, repeated_keys, sandbox_total = self.sandbox_rows(database_url)
        outcomes = reader.outcomes
        once = twice = lost = failed = 0
        reasons: Counter[str] = Counter()
        on_network_but_failed = reported_not_on_network = redelivered_events = 0
        examples: dict[str, list[str]] = {"twice": [], "lost": []}
        for post in self.posts:
            rows = by_text.get(post.text, 0)
            external_ids = set(outcomes.published.get(post.post_id, []))
            redelivered_events += max(0, len(outcomes.published.get(post.post_id, [])) - 1)
            if rows > 1 or len(external_ids) > 1:
                twice += 1
                examples["twice"].append(f"{post.post_id} rows={rows} ids={sorted(external_ids)}")
            elif rows == 1:
                once += 1
            if external_ids:
                if rows == 0:
                    reported_not_on_network += 1
            elif outcomes.failed.get(post.post_id):
                failed += 1
                last_reason = outcomes.failed[post.post_id][-1][0]
                reasons[_short(last_reason)] += 1
                if rows:
                    on_network_but_failed += 1
            else:
                lost += 1
                examples["lost"].append(f"{post.post_id} ({post.handle}, rows={rows})")
        lost_states = self.publish_states(database_url, [
            example.split(" ", 1)[0] for example in examples["lost"]])
        stray = sum(count for text, count in by_text.items()
                    if text not in {post.text for post in self.posts})
        dlq = {topic.removeprefix(prefix): len(messages)
               for topic, messages in dead_letters.items()}
        dlq_errors = Counter(_short(m.get("tamtam-error", "")) for ms in dead_letters.values()
                             for m in ms)
        moves = self.partition_moves(prefix)
        return {
            "posts": len(self.posts), "accounts": self.config.accounts,
            "brands": min(self.config.brands, self.config.accounts),
            "partitions": self.config.partitions,
            "replicas": {s: len(r) for s, r in self.replicas.items()},
            "published_once": once, "published_twice": twice, "lost": lost,
            "failed": failed, "failed_reasons": dict(reasons.most_common(10)),
            "lost_by_publish_state": lost_states,
            "dead_lettered": sum(dlq.values()), "dead_letters_by_topic": dlq,
            "dead_letter_errors": dict(dlq_errors.most_common(5)),
            "sandbox_rows": sandbox_total, "sandbox_rows_not_from_the_scenario": stray,
            "sandbox_repeated_idempotency_keys": len(repeated_keys),
            "published_but_reported_failed": on_network_but_failed,
            "reported_published_not_on_network": reported_not_on_network,
            "redundant_published_events": redelivered_events,
            "kills": [e for e in self.timeline if e["kind"] == "SIGKILL"],
            "broker_restart": [e for e in self.timeline if e["kind"] == "broker-started"],
            "faults": [e for e in self.timeline if e["kind"].startswith("faults")],
            "timeline": self.timeline, "unplanned_exits": self.unplanned_exits,
            "consumer_deaths": self.consumer_deaths,
            "migration_fallback_tables": self.fallback_tables,
            "partition_moves": moves["from_logs"], "group_changes": moves["from_groups"],
            "replica_errors": moves["errors"],
            "examples": {k: v[:10] for k, v in examples.items()},
            "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
            "broker": "own local broker (restarted once)" if self.owns_broker else "existing",
        }

    def partition_moves(self, prefix: str) -> dict[str, Any]:
        """Per kill: the partitions the killed life handled, and which of them the other
        replicas handled between the kill and the restart (from the `message handled` lines);
        and the consumer groups' membership changes around it."""
        lives = {replica.name: partitions_by_life(replica.log_path, replica.name, prefix)
                 for replica in self.all_replicas()}
        restarts = {(e["replica"], e["life"]): e["unix"] for e in self.timeline
                    if e["kind"] == "restart"}
        from_logs = []
        for kill in (e for e in self.timeline if e["kind"] == "SIGKILL"):
            name, life_number, killed_at = kill["replica"], kill["life"], kill["unix"]
            back_at = restarts.get((name, life_number + 1), killed_at + 60)
            life = next((one for one in lives.get(name, []) if one.life == life_number), None)
            if life is None:
                continue
            service = name.rsplit("-", 1)[0]
            owned = {topic: sorted(p for p, (_, last, _) in parts.items() if last <= killed_at)
                     for topic, parts in life.handled.items()}
            taken: dict[str, dict[str, list[int]]] = {}
            for other in self.replicas.get(service, []):
                if other.name == name:
                    continue
                for other_life in lives.get(other.name, []):
                    for topic, parts in other_life.handled.items():
                        moved = sorted(p for p, (first, last, _) in parts.items()
                                       if p in owned.get(topic, []) and last >= killed_at
                                       and first <= back_at)
                        if moved:
                            taken.setdefault(other.name, {})[topic] = moved
            from_logs.append({"killed": name, "life": life_number,
                              "at_s": kill["at_s"], "owned_before": owned,
                              "handled_by_others_until_restart": taken})
        from_groups = []
        labels: dict[str, str] = {}
        for change in (self.group_monitor.changes if self.group_monitor else []):
            members = {}
            for member_id, topics in change.members.items():
                label = labels.setdefault(member_id, f"m{len(labels) + 1}")
                members[label] = {t.removeprefix("tamtam."): p for t, p in topics.items()
                                  if p and t in SHOWN_TOPICS}
            from_groups.append({"at_s": round(change.at - self.t0, 1),
                                "group": change.group.removeprefix(prefix), "members": members})
        errors = {name: [e for life in ls for e in life.errors][:10] for name, ls in lives.items()}
        return {"from_logs": from_logs, "from_groups": from_groups,
                "errors": {k: v for k, v in errors.items() if v}}


def import_table_modules() -> None:
    """Every module of services/ that defines a table (some are not in import_all_models)."""
    import importlib

    for path in sorted((ROOT / "services").rglob("*.py")):
        if "__tablename__" in path.read_text(errors="replace"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            importlib.import_module(module)


def _short(text: str, length: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


# --- printing ---------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    line = "=" * 78
    print(line)
    print(f"Chaos scenario: {result['posts']} posts, {result['accounts']} sandbox accounts, "
          f"{result['brands']} brands, {result['partitions']} partitions, replicas "
          f"{result['replicas']}, {result['database']}, broker: {result['broker']}")
    print(f"  published once      {result['published_once']}")
    print(f"  published twice     {result['published_twice']}")
    print(f"  lost                {result['lost']}  (neither published nor failed)"
          + (f"; in publish's table: {result['lost_by_publish_state']}" if result["lost"] else ""))
    print(f"  failed              {result['failed']}")
    for reason, count in result["failed_reasons"].items():
        print(f"      {count:5d} × {reason}")
    print(f"  dead-lettered       {result['dead_lettered']}  {result['dead_letters_by_topic']}")
    for error, count in result["dead_letter_errors"].items():
        print(f"      {count:5d} × {error}")
    print(f"  sandbox rows {result['sandbox_rows']} (repeated idempotency keys: "
          f"{result['sandbox_repeated_idempotency_keys']}); published but reported failed "
          f"{result['published_but_reported_failed']}; reported published but not on the "
          f"network {result['reported_published_not_on_network']}; redundant published events "
          f"{result['redundant_published_events']}")
    if result["migration_fallback_tables"]:
        print(f"  tables created from the models (no migration yet): "
              f"{len(result['migration_fallback_tables'])}")
    print("Timeline:")
    for entry in result["timeline"]:
        detail = {k: v for k, v in entry.items() if k not in ("at_s", "unix", "kind")}
        print(f"  +{entry['at_s']:6.1f}s {entry['kind']:15s} {detail}")
    for exit_ in result["unplanned_exits"]:
        print(f"  unplanned exit: {exit_['replica']} code {exit_['code']} at +{exit_['at_s']}s")
    for death in result["consumer_deaths"]:
        print(f"  WARNING: the consumer thread of {death['replica']} (life {death['life']}) died "
              f"at +{death['at_s']}s while the process stayed up and ready: {death['error']}"
              + (" (restarted by the harness)" if death["healed"] else ""))
    print("Partition moves (from the replicas' `message handled` log lines):")
    for move in result["partition_moves"]:
        owned = {t: p for t, p in move["owned_before"].items() if p}
        print(f"  +{move['at_s']:.0f}s {move['killed']} (life {move['life']}) SIGKILLed; it had "
              f"handled {owned}")
        for other, topics in move["handled_by_others_until_restart"].items():
            print(f"      -> {other} handled {topics} before it came back")
        if not move["handled_by_others_until_restart"]:
            print("      -> no message on those partitions reached another replica before the "
                  "restart")
    print("Consumer groups (describe_groups; m<n> = member ids in order of appearance):")
    for change in result["group_changes"]:
        print(f"  +{change['at_s']:6.1f}s {change['group']:16s} "
              + ("  ".join(f"{m}{t}" for m, t in change["members"].items()) or "(no member)"))
    if result["replica_errors"]:
        print("Errors in the replicas' logs (first ones):")
        for name, errors in result["replica_errors"].items():
            for error in errors[:4]:
                print(f"  {name}: {error}")
    for kind, examples in result["examples"].items():
        if examples:
            print(f"  {kind}: {examples}")
    print(line)


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """The BENCH_RESULT line: the figures, not the full timeline."""
    keep = ("posts", "accounts", "brands", "partitions", "replicas", "published_once",
            "published_twice", "lost", "lost_by_publish_state", "failed", "failed_reasons",
            "dead_lettered",
            "dead_letters_by_topic", "sandbox_rows", "published_but_reported_failed",
            "reported_published_not_on_network", "redundant_published_events", "unplanned_exits",
            "consumer_deaths",
            "database", "broker", "timed_out", "seconds")
    out = {key: result[key] for key in keep if key in result}
    out["unplanned_exits"] = len(result.get("unplanned_exits", []))
    out["consumer_deaths"] = [f"{d['replica']}@{d['at_s']}s: {d['error']}"
                              for d in result.get("consumer_deaths", [])]
    out["kills"] = [f"{k['replica']}@{k['at_s']}s" for k in result["kills"]]
    out["broker_restart"] = result["broker_restart"][0] if result["broker_restart"] else None
    out["partition_moves"] = [
        {"killed": m["killed"], "at_s": m["at_s"], "to": m["handled_by_others_until_restart"]}
        for m in result["partition_moves"]]
    return out


def run_scenario(config: ChaosConfig) -> dict[str, Any]:
    return Scenario(config).run()


def parse_args(argv: list[str]) -> ChaosConfig:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--brands", type=int, default=5,
                        help="brands the accounts are spread over "
                             "(posts.approved is keyed by brand)")
    parser.add_argument("--minutes", type=float, default=3.0, help="due times spread over this")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--publish-kills", type=int, default=4)
    parser.add_argument("--ingest-kills", type=int, default=2)
    parser.add_argument("--ingest-replicas", type=int, default=2)
    parser.add_argument("--no-broker-restart", action="store_true")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--fault-seconds", type=float, default=30.0)
    parser.add_argument("--settle-timeout", type=float, default=600.0,
                        help="seconds after the window to wait for the last outcomes")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-heal", action="store_true",
                        help="leave a replica whose consumer thread died as it is")
    parser.add_argument("--postgres", action="store_true",
                        help="a fresh database on TAMTAM_TEST_POSTGRES_URL's server "
                             "instead of SQLite")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args(argv)
    postgres = None
    if args.postgres:
        postgres = os.environ.get("TAMTAM_TEST_POSTGRES_URL")
        if not postgres:
            parser.error("--postgres needs TAMTAM_TEST_POSTGRES_URL")
    return ChaosConfig(
        posts=args.posts, accounts=args.accounts, brands=args.brands, minutes=args.minutes,
        partitions=args.partitions, publish_kills=args.publish_kills,
        ingest_kills=args.ingest_kills, ingest_replicas=args.ingest_replicas,
        broker_restart=not args.no_broker_restart, faults=() if args.no_faults else FAULT_MODES,
        fault_seconds=args.fault_seconds, settle_timeout_s=args.settle_timeout,
        seed=args.seed if args.seed is not None else random.randrange(1 << 30),
        workdir=args.workdir, postgres_admin_url=postgres, heal=not args.no_heal,
    )


def main(argv: list[str]) -> int:
    config = parse_args(argv)
    say(f"seed {config.seed} (pass --seed to replay the same chaos plan)")
    result = run_scenario(config)
    print_report(result)
    report("chaos", seed=config.seed, **figures(result))
    bad = result["published_twice"] > 0 or result["lost"] > 0
    say("FAILED: duplicated or lost posts" if bad else "OK: no post duplicated, none lost")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
