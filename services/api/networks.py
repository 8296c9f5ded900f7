"""The networks Tamtam can reach (built-in and third-party plugins), and a validator that
tells, per network, whether a text (and its media) fits and why not."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from plugins.networks import UnknownNetwork
from plugins.networks.base import Media, OutgoingPost
from services.api.deps import ContextDep, PrincipalDep
from shared.problems import Problem

router = APIRouter(prefix="/v1", tags=["networks"])


class NetworkRead(BaseModel):
    name: str
    display_name: str
    plugin: str = Field(description="`builtin`, or the module of the third-party plugin.")
    limits: dict[str, Any]


class MediaDescription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mime_type: str = Field(examples=["image/jpeg"])
    size_bytes: int | None = Field(default=None, ge=0)
    alt_text: str = ""


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(examples=["Notre galette est de retour ! https://example.fr/galette #galette"])
    media: list[MediaDescription] = Field(default=[], max_length=20)
    thread: list[str] = Field(default=[], max_length=25)
    networks: list[str] = Field(min_length=1, max_length=20, examples=[["x", "mastodon", "bluesky"]])


class ProblemItem(BaseModel):
    code: str
    message: str
    where: str


class NetworkVerdict(BaseModel):
    network: str
    length: int
    limit: int
    counting: str
    fits: bool
    problems: list[ProblemItem]


@router.get("/networks", response_model=list[NetworkRead])
def list_networks(principal: PrincipalDep, context: ContextDep) -> list[NetworkRead]:
    registry = context.extras["networks"]
    networks = []
    for name in registry.names():
        adapter = registry.adapter_class(name)
        networks.append(NetworkRead(name=name, display_name=adapter.display_name,
                                    plugin=registry.plugin_of(name), limits=adapter.limits.as_dict()))
    return networks


@router.post("/validate", response_model=list[NetworkVerdict])
def validate(body: ValidateRequest, principal: PrincipalDep, context: ContextDep) -> list[NetworkVerdict]:
    """Per network: the length as that network counts it, its limit, and every problem."""
    registry = context.extras["networks"]
    post = OutgoingPost(
        text=body.text, thread=tuple(body.thread),
        media=tuple(Media(mime_type=m.mime_type, size_bytes=m.size_bytes, alt_text=m.alt_text)
                    for m in body.media),
    )
    verdicts = []
    with httpx.Client(timeout=5.0) as http:  # no network call is made without an account
        for name in body.networks:
            try:
                adapter = registry.create(name, http)
            except UnknownNetwork as error:
                raise Problem(422, str(error), kind="unknown-network") from None
            problems = adapter.validate(post)
            verdicts.append(NetworkVerdict(
                network=name, length=adapter.count(body.text), limit=adapter.limits.max_length,
                counting=adapter.limits.counting, fits=not problems,
                problems=[ProblemItem(code=p.code, message=p.message, where=p.where)
                          for p in problems],
            ))
    return verdicts
