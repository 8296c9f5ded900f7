"""Generation throughput: drafts per second with the offline `local` provider, through the
real Kafka broker (generation.requested in, drafts.created out), median of a few runs.

    python -m bench.generation_throughput
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from bench.common import median_of, report
from plugins.ai import get_provider_registry
from plugins.networks import get_network_registry
from services.api.keys import create_agency
from services.generation.ai import ProviderPool
from services.generation.handlers import make_handlers
from services.generation.runs import GenerationDeps
from shared.bus import Publisher, ensure_topics, make_producer
from shared.config import Settings
from shared.db import Base, import_all_models, make_engine, make_session_factory, transaction
from shared.events import GenerationRequested, new_event, topic_for
from shared.metrics import ServiceMetrics
from shared.models import Brand
from shared.runner import ConsumerRunner

BRIEFS = 100
NETWORKS = ["sandbox", "mastodon", "x", "bluesky"]
VARIANTS = 2
RUNS = 3


def one_run(folder: Path, deps: GenerationDeps) -> float:
    settings = Settings(
        database_url=f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}",
        topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
        topic_partitions=1,
        demo=False,
        log_json=False,
    )
    ensure_topics(settings)
    import_all_models()
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        agency, _ = create_agency(session, "Bench")
        brand = Brand(agency_id=agency.id, name="Boulangerie Bench")
        session.add(brand)
        session.flush()
        agency_id, brand_id = agency.id, brand.id
    producer = make_producer(settings, client_id="bench-generation")
    for index in range(BRIEFS):
        event = new_event(
            GenerationRequested(
                brand_id=brand_id,
                brief_id=uuid.uuid4().hex,
                topic=f"pain au levain {index}",
                key_message="Notre pain au levain sort du four chaque matin à 7h",
                links=["https://example.com/pain"],
                networks=NETWORKS,
                variants=VARIANTS,
                call_to_action="Passez le goûter",
            ),
            tenant=agency_id,
            source="bench",
        )
        producer.send(
            topic_for(event.type, settings.topic_prefix),
            key=event.key.encode(),
            value=event.to_bytes(),
        )
    producer.flush()
    runner = ConsumerRunner(
        settings=settings,
        group="generation",
        handlers=make_handlers(deps),
        session_factory=factory,
        publisher=Publisher(producer, factory, "generation", settings.topic_prefix),
        metrics=ServiceMetrics("generation"),
    )
    started = time.perf_counter()
    handled = runner.run(max_messages=BRIEFS, idle_timeout=30)
    elapsed = time.perf_counter() - started
    producer.close()
    engine.dispose()
    if handled != BRIEFS:
        raise RuntimeError(f"only {handled} of {BRIEFS} briefs were consumed")
    return BRIEFS * VARIANTS * len(NETWORKS) / elapsed


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="tamtam-bench-generation-"))
    deps = GenerationDeps(
        providers=ProviderPool(get_provider_registry(load_entrypoints=False)),
        networks=get_network_registry(load_entrypoints=False),
    )
    median, samples = median_of(RUNS, lambda: one_run(folder, deps))
    print(
        f"generation throughput (local provider, through Kafka): {median:.1f} drafts/s "
        f"(median of {RUNS}: {', '.join(f'{s:.1f}' for s in samples)}; "
        f"{BRIEFS} briefs x {VARIANTS} variants x {len(NETWORKS)} networks per run)"
    )
    report(
        "generation_throughput",
        drafts_per_second=round(median, 1),
        samples=[round(s, 1) for s in samples],
        briefs=BRIEFS,
        variants=VARIANTS,
        networks=NETWORKS,
    )


if __name__ == "__main__":
    main()
