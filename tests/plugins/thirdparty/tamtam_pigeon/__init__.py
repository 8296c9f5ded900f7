"""A tiny third-party network plugin, as `pip install tamtam-pigeon` would bring: it knows
nothing of Tamtam's internals beyond the adapter contract and the hook."""

from __future__ import annotations

from plugins.networks.base import PUBLISH_TEXT, Account, Limits, NetworkAdapter, OutgoingPost, PublishResult
from plugins.networks.hookspecs import hookimpl


class Pigeon(NetworkAdapter):
    name = "pigeon"
    display_name = "Carrier pigeon"
    limits = Limits(max_length=42, counting="Unicode code points (one small paper)",
                    capabilities=frozenset({PUBLISH_TEXT}))

    def count(self, text: str) -> int:
        return len(text)

    def publish(self, post: OutgoingPost, account: Account) -> PublishResult:
        answer = self.http.post("https://pigeon.example/messages", json={"text": post.text})
        return PublishResult(external_id=str(answer.json()["id"]))


@hookimpl
def register_networks(register):  # type: ignore[no-untyped-def]
    register(Pigeon)
