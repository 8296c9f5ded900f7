"""Structured logs: one JSON object per line, with the ids of the message a line is about."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from shared.config import Settings
from shared.events import AccountDisconnected, PostDue, dead_letter_topic, new_event
from shared.logs import JsonFormatter
from shared.metrics import ServiceMetrics
from shared.runner import ConsumerRunner


def test_a_record_with_extra_ids_becomes_one_json_object_with_those_fields():
    record = logging.LogRecord("shared.runner", logging.INFO, __file__, 1, "message %s",
                               ("handled",), None)
    record.__dict__.update({"event_id": "e-1", "post_id": "p-1", "partition": 3})

    line = JsonFormatter("publish").format(record)

    assert "\n" not in line
    fields = json.loads(line)
    assert fields["message"] == "message handled"
    assert fields["service"] == "publish"
    assert fields["level"] == "info"
    assert fields["logger"] == "shared.runner"
    assert (fields["event_id"], fields["post_id"], fields["partition"]) == ("e-1", "p-1", 3)
    assert fields["time"].endswith("+00:00")
    assert "msg" not in fields and "args" not in fields  # LogRecord internals stay out


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.formatter_ = JsonFormatter("test")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.formatter_.format(record)))


class _Publisher:
    """Stands in for the outbox publisher: the handler stages nothing, the DLQ send succeeds."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.producer = SimpleNamespace(send=self._send, flush=lambda: None)

    def _send(self, topic: str, **_: object) -> SimpleNamespace:
        self.sent.append(topic)
        return SimpleNamespace(get=lambda timeout=None: None)

    def stage(self, session, events) -> None:
        assert not events

    def flush_outbox(self) -> int:
        return 0


def _record(event, partition: int = 2, offset: int = 41) -> SimpleNamespace:
    return SimpleNamespace(topic=f"x.{event.type}", partition=partition, offset=offset,
                           key=event.key.encode(), value=event.to_bytes())


@pytest.fixture
def capture():
    handler = _Capture()
    logger = logging.getLogger("shared.runner")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


def _runner(settings: Settings, session_factory, handler, publisher) -> ConsumerRunner:
    return ConsumerRunner(
        settings=settings.model_copy(update={"handler_retry_backoff_s": 0}), group="logs-test",
        handlers={PostDue.type: handler, AccountDisconnected.type: handler},
        session_factory=session_factory, publisher=publisher,  # type: ignore[arg-type]
        metrics=ServiceMetrics("logs-test"),
    )


def test_the_runner_logs_each_handled_message_with_its_event_and_post_ids(
    settings: Settings, session_factory, capture
):
    from datetime import UTC, datetime

    event = new_event(PostDue(brand_id="b", post_id="post-7", account_id="a",
                              due_at=datetime(2030, 1, 1, tzinfo=UTC)), tenant="ag", source="t")
    runner = _runner(settings, session_factory, lambda event, session: [], _Publisher())

    runner.handle_record(_record(event))

    handled = [line for line in capture if line["message"] == "message handled"]
    assert len(handled) == 1
    line = handled[0]
    assert line["event_id"] == event.id
    assert line["post_id"] == "post-7"
    assert line["event_type"] == "tamtam.posts.due"
    assert (line["partition"], line["offset"]) == (2, 41)


def test_failed_and_dead_lettered_lines_carry_the_ids_and_a_payload_without_post_id_logs_null(
    settings: Settings, session_factory, capture
):
    event = new_event(AccountDisconnected(brand_id="b", account_id="a", reason="r"),
                      tenant="ag", source="t")

    def failing(event, session):
        raise RuntimeError("boom")

    publisher = _Publisher()
    runner = _runner(settings, session_factory, failing, publisher)

    runner.handle_record(_record(event))

    failed = [line for line in capture if line["message"] == "handler failed"]
    dead = [line for line in capture if line["message"] == "message dead-lettered"]
    assert len(failed) == settings.handler_max_attempts
    assert all(line["event_id"] == event.id and line["post_id"] is None for line in failed)
    assert failed[-1]["error"] == "RuntimeError: boom"
    assert len(dead) == 1 and dead[0]["event_id"] == event.id and dead[0]["level"] == "error"
    assert publisher.sent == [dead_letter_topic("logs-test", settings.topic_prefix)]
    assert not [line for line in capture if line["message"] == "message handled"]
