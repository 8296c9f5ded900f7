"""Fakes and request readers the network adapter tests share.

Named `network_fakes` rather than `support`: this folder has no `__init__.py`, so pytest
imports it as a top-level module, and a plain name could meet another folder's helper.
"""

from __future__ import annotations

from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


def recording(handler: Handler) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client answered by `handler`, and the list of every request it was sent."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.Client(transport=httpx.MockTransport(record)), seen


class Routes:
    """Answers by (method, path) in order and records every request; the last answer of a
    route repeats."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[httpx.Response]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *responses: httpx.Response) -> None:
        self.routes.setdefault((method, path), []).extend(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            raise AssertionError(f"unexpected {request.method} {request.url.path}")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def form(request: httpx.Request) -> dict[str, str]:
    """The fields of a form-encoded body (the first value of each)."""
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def multipart(request: httpx.Request) -> dict[str, object]:
    """The parts of a multipart body by name: bytes for a file, text for a field."""
    head = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    parts: dict[str, object] = {}
    for part in message.iter_parts():
        raw = part.get_payload(decode=True)
        name = part.get_param("name", header="content-disposition")
        parts[name] = raw if part.get_filename() else raw.decode("utf-8")
    return parts


def ok(**body: object) -> httpx.Response:
    return httpx.Response(200, json=body)
