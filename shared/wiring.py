"""Builds a service process: database, Kafka producer, outbox publisher, consumer runner,
and a small FastAPI app with `/healthz`, `/readyz`, `/metrics` and the service's own routes.

Only `services/<name>/main.py` calls into this module; everything below it receives the
objects built here (the session factory, the publisher, the plugin managers).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared import problems
from shared.bus import Publisher, make_producer
from shared.config import Settings
from shared.db import make_engine, make_session_factory, ping
from shared.logs import configure_logging
from shared.metrics import ServiceMetrics
from shared.runner import ConsumerRunner, Handler

log = logging.getLogger(__name__)


class KafkaProbe:
    """Is the cluster reachable? One admin request at most every few seconds (probes are frequent)."""

    def __init__(self, settings: Settings, every: float = 5.0) -> None:
        self.settings = settings
        self.every = every
        self._admin: KafkaAdminClient | None = None
        self._checked_at = -every
        self._ok = False
        self._lock = threading.Lock()

    def ok(self) -> bool:
        with self._lock:
            if time.monotonic() - self._checked_at < self.every:
                return self._ok
            try:
                if self._admin is None:
                    self._admin = KafkaAdminClient(
                        bootstrap_servers=self.settings.bootstrap_servers,
                        request_timeout_ms=3000, client_id="tamtam-readiness",
                    )
                self._ok = bool(self._admin.describe_cluster().get("brokers"))
            except Exception:  # unreachable, timed out, refused: not ready
                self._ok = False
                if self._admin is not None:
                    self._admin.close()
                    self._admin = None
            self._checked_at = time.monotonic()
            return self._ok

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()


@dataclass
class ServiceContext:
    """Everything one service process shares between its consumer and its routes."""

    name: str
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    producer: KafkaProducer
    publisher: Publisher
    metrics: ServiceMetrics
    kafka_probe: KafkaProbe | None = None
    runner: ConsumerRunner | None = None
    # Set by `serve()`: in a service process a dead consumer stops the process so that it is
    # restarted; embedded in a test, it only makes the service not ready.
    stop_process_on_crash: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            ping(self.engine)
            checks["database"] = "ok"
        except Exception as error:  # report, never raise, from a health check
            checks["database"] = f"error: {type(error).__name__}"
        if self.kafka_probe is None:
            self.kafka_probe = KafkaProbe(self.settings)
        checks["kafka"] = "ok" if self.kafka_probe.ok() else "unreachable"
        if self.runner is not None:
            if self.runner.crashed.is_set():
                checks["consumer"] = "stopped on an error"
            else:
                checks["consumer"] = "ok" if self.runner.started.is_set() else "starting"
        return checks


def build_context(name: str, settings: Settings) -> ServiceContext:
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    producer = make_producer(settings, client_id=f"tamtam-{name}")
    publisher = Publisher(producer, session_factory, source=name, prefix=settings.topic_prefix)
    return ServiceContext(
        name=name, settings=settings, engine=engine, session_factory=session_factory,
        producer=producer, publisher=publisher, metrics=ServiceMetrics(name),
    )


def health_router(context: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": context.name}

    @router.get("/readyz", summary="Kafka and the database are reachable")
    def readyz() -> JSONResponse:
        checks = context.readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "service": context.name, "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(context.metrics.render(), media_type="text/plain; version=0.0.4")

    return router


def build_app(
    context: ServiceContext,
    handlers: Mapping[str, Handler] | None = None,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Callable[[ServiceContext], None]] = (),
    background: Sequence[Callable[[ServiceContext, threading.Event], None]] = (),
    **app_options: Any,
) -> FastAPI:
    """The service's HTTP app; its lifespan runs the consumer and background loops."""
    stop = threading.Event()
    threads: list[threading.Thread] = []
    if handlers:
        context.runner = ConsumerRunner(
            settings=context.settings, group=context.name, handlers=handlers,
            session_factory=context.session_factory, publisher=context.publisher,
            metrics=context.metrics,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for step in on_startup:
            step(context)
        if context.runner is not None:
            threads.append(threading.Thread(target=_run_consumer, args=(context,),
                                            name=f"{context.name}-consumer"))
        for loop in background:
            threads.append(threading.Thread(target=loop, args=(context, stop),
                                            name=f"{context.name}-{loop.__name__}"))
        for thread in threads:
            thread.start()
        log.info("service started", extra={"port": context.settings.port_of(context.name)})
        try:
            yield
        finally:
            stop.set()
            if context.runner is not None:
                context.runner.stop()
            for thread in threads:
                thread.join(timeout=30)
            context.producer.close(timeout=10)
            if context.kafka_probe is not None:
                context.kafka_probe.close()
            context.engine.dispose()
            log.info("service stopped")

    app = FastAPI(lifespan=lifespan, **app_options)
    app.state.context = context
    problems.install(app)
    app.include_router(health_router(context))
    for router in routers:
        app.include_router(router)
    return app


def _run_consumer(context: ServiceContext) -> None:
    assert context.runner is not None
    try:
        context.runner.run()
    except Exception:  # the consumer thread must not die silently: stop the process too,
        # so that the supervisor (or Kubernetes) starts a fresh one
        context.runner.crashed.set()
        log.exception("consumer stopped on an error")
        if context.stop_process_on_crash:
            os.kill(os.getpid(), signal.SIGTERM)


def context_of_app(app: FastAPI) -> ServiceContext:
    return app.state.context  # type: ignore[no-any-return]


def context_of(request: Request) -> ServiceContext:
    return request.app.state.context  # type: ignore[no-any-return]


def serve(app: FastAPI, settings: Settings, service: str) -> None:
    """Run until SIGTERM/SIGINT; uvicorn's shutdown stops the consumer cleanly."""
    configure_logging(service, settings.log_level, settings.log_json)
    context_of_app(app).stop_process_on_crash = True
    uvicorn.run(
        app, host=settings.api_host, port=settings.port_of(service),
        log_config=None, access_log=False, timeout_graceful_shutdown=20,
    )
