"""Fetching user-given URLs refuses our own network (SSRF), connects where it checked, and
checks every redirect hop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.netguard import (
    AllowList,
    BlockedAddress,
    guarded_get,
    is_public,
    vet_url,
)

REFUSED = [
    "http://127.0.0.1/feed.xml",
    "http://127.1.2.3:8080/",
    "http://10.0.0.5/rss",
    "http://10.255.255.255/",
    "http://172.16.4.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[::1]/feed",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://224.0.0.1/",
    "http://localhost/feed",  # a name that resolves to loopback
    "http://localhost.:8000/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_and_link_local_targets_are_refused(url: str):
    with pytest.raises(BlockedAddress):
        vet_url(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.org/",
                                 "http://user:pw@example.org/", "http:///nohost"])
def test_other_schemes_credentials_and_hostless_urls_are_refused(url: str):
    with pytest.raises(BlockedAddress):
        vet_url(url, resolver=lambda host, port: ["93.184.216.34"])


def test_a_name_is_refused_if_any_of_its_addresses_is_private():
    resolver = lambda host, port: ["93.184.216.34", "127.0.0.1"]  # noqa: E731
    with pytest.raises(BlockedAddress, match="127.0.0.1"):
        vet_url("https://feeds.example.org/rss", resolver=resolver)


def test_public_addresses_pass_and_the_allow_list_opens_chosen_networks():
    public = vet_url("https://feeds.example.org/rss", resolver=lambda h, p: ["93.184.216.34"])
    assert [str(a) for a in public.addresses] == ["93.184.216.34"]
    allow = AllowList.parse("10.1.0.0/16, intranet.local")
    assert vet_url("http://10.1.2.3/rss", allow).host == "10.1.2.3"
    assert vet_url("http://intranet.local/rss", allow, resolver=lambda h, p: ["10.9.9.9"])
    with pytest.raises(BlockedAddress):
        vet_url("http://10.2.0.1/rss", allow)
    assert is_public(__import__("ipaddress").ip_address("2606:4700::1111"))


class _Handler(BaseHTTPRequestHandler):
    seen_hosts: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen_hosts.append(self.headers.get("Host", ""))
        if self.path.startswith("/redirect-private"):
            self.send_response(302)
            self.send_header("Location", "http://10.0.0.1/internal")
            self.end_headers()
            return
        if self.path.startswith("/redirect-local"):
            self.send_response(301)
            self.send_header("Location", "/feed.xml")
            self.end_headers()
            return
        if self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        body = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_connection_goes_to_the_vetted_address_with_the_name_in_the_host_header(local_server):
    allow = AllowList.parse("127.0.0.1/32")
    resolver = lambda host, port: ["127.0.0.1"]  # noqa: E731  (feeds.test -> the test server)
    response = guarded_get(f"http://feeds.test:{local_server}/feed.xml", allow=allow,
                           resolver=resolver)
    assert response.status_code == 200 and b"<rss" in response.content
    assert _Handler.seen_hosts[-1] == f"feeds.test:{local_server}"


def test_every_redirect_hop_is_checked_again(local_server):
    allow = AllowList.parse("127.0.0.1/32")
    ok = guarded_get(f"http://127.0.0.1:{local_server}/redirect-local", allow=allow)
    assert ok.status_code == 200 and len(ok.hops) == 2
    with pytest.raises(BlockedAddress, match="10.0.0.1"):
        guarded_get(f"http://127.0.0.1:{local_server}/redirect-private", allow=allow)
    with pytest.raises(BlockedAddress, match="redirects"):
        guarded_get(f"http://127.0.0.1:{local_server}/loop", allow=allow, max_redirects=3)


def test_without_the_allow_list_the_local_server_is_not_reached(local_server):
    before = len(_Handler.seen_hosts)
    with pytest.raises(BlockedAddress):
        guarded_get(f"http://127.0.0.1:{local_server}/feed.xml")
    with pytest.raises(BlockedAddress):
        guarded_get(f"http://localhost:{local_server}/feed.xml")
    assert len(_Handler.seen_hosts) == before
