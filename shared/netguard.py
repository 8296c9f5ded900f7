"""Outbound HTTP to an address a user gave (a feed, a media URL, a webhook target), without
letting that user reach our own network (SSRF).

Rules, checked for the URL and again for every redirect hop:

- only `http` and `https`, no user:password in the URL;
- the host is resolved, and *every* address it resolves to must be public: private,
  loopback, link-local (169.254.169.254 is the cloud metadata service), shared (CGNAT),
  reserved, multicast and unspecified addresses are refused, and so are IPv6 addresses that
  embed one (IPv4-mapped `::ffff:127.0.0.1`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`);
- the connection goes to the address we vetted (the URL is rewritten to that IP; the `Host`
  header and the TLS SNI/certificate check keep the name), so a DNS answer that changes
  between the check and the connect (DNS rebinding) cannot move us elsewhere;
- at most `max_redirects` redirects, and at most `max_bytes` of body.

An `AllowList` (from `Settings.fetch_allow_networks`) lets an operator open chosen networks
or host names, e.g. an intranet feed server or the test servers on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIXTOFOUR = ipaddress.ip_network("2002::/16")
REDIRECTS = (301, 302, 303, 307, 308)


class BlockedAddress(ValueError):
    """The URL (or a redirect) leads somewhere a user-given fetch may not go."""


@dataclass(frozen=True)
class AllowList:
    """Networks and host names that may be reached even though they are not public."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | Iterable[str] | None) -> AllowList:
        """`"10.1.0.0/16, 127.0.0.1, feeds.intranet"`: CIDRs, addresses or host names."""
        parts = text.split(",") if isinstance(text, str) else list(text or [])
        networks, hosts = [], set()
        for part in (p.strip() for p in parts):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                hosts.add(part.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def is_public(address: IPAddress) -> bool:
    inner = embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    return not (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_reserved or address.is_multicast or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE)
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise BlockedAddress(f"{host} does not resolve ({error.strerror})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class VettedTarget:
    url: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    def url_for(self, address: IPAddress) -> str:
        """The URL with its host replaced by `address` (so we connect where we checked)."""
        parts = urlsplit(self.url)
        literal = f"[{address}]" if address.version == 6 else str(address)
        default = 443 if parts.scheme == "https" else 80
        netloc = literal if self.port == default else f"{literal}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))

    @property
    def host_header(self) -> str:
        parts = urlsplit(self.url)
        default = 443 if parts.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def vet_url(url: str, allow: AllowList | None = None,
            resolver: Resolver = system_resolver) -> VettedTarget:
    """Check `url` and every address its host resolves to; raise `BlockedAddress` if any is
    not public (and not allowed)."""
    allow = allow or AllowList()
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"only http and https URLs can be fetched, not {parts.scheme!r}")
    if parts.username or parts.password:
        raise BlockedAddress("URLs with a user name or password are refused")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BlockedAddress("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BlockedAddress("the URL's port is not a number") from None
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    names = [str(literal)] if literal is not None else resolver(host, port)
    addresses = tuple(ipaddress.ip_address(name.split("%", 1)[0]) for name in names)
    if not addresses:
        raise BlockedAddress(f"{host} does not resolve")
    if not allow.allows_host(host):
        for address in addresses:
            if not is_public(address) and not allow.allows_address(address):
                raise BlockedAddress(
                    f"{host} resolves to {address}, a private, loopback, link-local or reserved "
                    "address; add it to TAMTAM_FETCH_ALLOW_NETWORKS to allow it")
    return VettedTarget(url=urlunsplit(parts._replace(fragment="")), host=host, port=port,
                        addresses=addresses)


@dataclass
class FetchedResponse:
    url: str  # after redirects
    status_code: int
    headers: httpx.Headers
    content: bytes
    hops: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers) or "utf-8", errors="replace")


def _charset(headers: httpx.Headers) -> str | None:
    for part in headers.get("content-type", "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return None


class TooLarge(ValueError):
    pass


def guarded_get(
    url: str, *, allow: AllowList | None = None, client: httpx.Client | None = None,
    headers: dict[str, str] | None = None, max_redirects: int = 3,
    max_bytes: int = 5_000_000, timeout: float = 10.0, resolver: Resolver = system_resolver,
) -> FetchedResponse:
    """GET a user-given URL under the rules above; redirects are followed by hand so that each
    hop is checked. Raises `BlockedAddress`, `TooLarge` or `httpx.HTTPError`."""
    own_client = client is None
    http = client or httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)
    hops: list[str] = []
    current = url
    try:
        for _ in range(max_redirects + 1):
            target = vet_url(current, allow, resolver)
            response = _get_pinned(http, target, headers or {}, max_bytes)
            hops.append(target.url)
            location = response.headers.get("location")
            if response.status_code in REDIRECTS and location:
                current = urljoin(target.url, location)
                continue
            response.url, response.hops = target.url, hops
            return response
        raise BlockedAddress(f"more than {max_redirects} redirects")
    finally:
        if own_client:
            http.close()


def _get_pinned(http: httpx.Client, target: VettedTarget, headers: dict[str, str],
                max_bytes: int) -> FetchedResponse:
    last_error: Exception | None = None
    for address in target.addresses:
        extensions = {"sni_hostname": target.host} if target.url.startswith("https") else {}
        request = http.build_request(
            "GET", target.url_for(address), headers={**headers, "Host": target.host_header},
            extensions=extensions)
        try:
            response = http.send(request, stream=True)
        except httpx.ConnectError as error:  # try the next vetted address
            last_error = error
            continue
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise TooLarge(f"{target.host} sent more than {max_bytes} bytes")
            return FetchedResponse(url=target.url, status_code=response.status_code,
                                   headers=response.headers, content=bytes(body))
        finally:
            response.close()
    assert last_error is not None
    raise last_error
