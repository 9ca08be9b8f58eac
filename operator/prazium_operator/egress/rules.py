"""Which destinations a worker may reach through the egress proxy: pure decisions.

Two lists of what is allowed, one of what never is:

* the tenant's: a Project's spec.network.egress, host names (``api.example.com``;
  ``*.example.com`` for its subdomains, not the domain itself) and addresses or CIDRs;
* the installation's: the configured LLM endpoints (host and port of each base URL)
  and PRAZIUM_EGRESS_ALLOW, written by the admin;
* closed ranges: loopback, link-local (cloud metadata services), private, shared
  (CGNAT), unique-local, multicast and reserved addresses, the proxy machine's own
  addresses and PRAZIUM_EGRESS_DENY. A tenant's entry never opens them: a host name
  a tenant controls could resolve to 127.0.0.1 and reach the node's PostgreSQL
  through the proxy. Only the admin's own entries may point there (an LLM server on
  the node, say).

A host name is allowed by name; every address it resolves to must then also be
outside the closed ranges. A CIDR allows a destination when every address the
requested host resolves to (or the address itself) lies in it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

CLOSED_RANGES: tuple[Network, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_HOST_LENGTH = 253


class RuleError(ValueError):
    """An allowlist entry that is neither a host name nor an address or CIDR."""


@dataclass(frozen=True)
class Rule:
    """One allowlist entry: a host name (suffix: any subdomain of it), or a network;
    port None: any port."""

    host: str | None = None
    suffix: bool = False
    network: Network | None = None
    port: int | None = None

    def matches_name(self, host: str, port: int) -> bool:
        if self.host is None or (self.port is not None and self.port != port):
            return False
        if self.suffix:
            return host.endswith("." + self.host)
        return host == self.host

    def contains(self, address: Address, port: int) -> bool:
        if self.network is None or (self.port is not None and self.port != port):
            return False
        return address.version == self.network.version and address in self.network


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 brackets."""
    return host.strip().rstrip(".").lower().removeprefix("[").removesuffix("]")


def parse_address(host: str) -> Address | None:
    """host as an IP address (IPv4-mapped IPv6 as its IPv4 address), or None."""
    try:
        address = ipaddress.ip_address(normalize_host(host))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _valid_host_name(name: str) -> bool:
    if not name or len(name) > MAX_HOST_LENGTH:
        return False
    for label in name.split("."):
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in label):
            return False
    return True


def parse_rule(entry: str, port: int | None = None) -> Rule:
    """An entry of spec.network.egress or PRAZIUM_EGRESS_ALLOW / _DENY."""
    text = entry.strip()
    if "/" in text or parse_address(text) is not None:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise RuleError(f"{entry!r} is not an address or CIDR") from exc
        return Rule(network=network, port=port)
    name = normalize_host(text)
    suffix = name.startswith("*.")
    if suffix:
        name = name[2:]
    if not _valid_host_name(name):
        raise RuleError(f"{entry!r} is not a host name, *.domain, address or CIDR")
    return Rule(host=name, suffix=suffix, port=port)


def parse_rules(entries: Iterable[str]) -> tuple[list[Rule], list[str]]:
    """(the rules, the entries that are not valid), so one bad entry closes only itself."""
    rules: list[Rule] = []
    bad: list[str] = []
    for entry in entries:
        try:
            rules.append(parse_rule(entry))
        except RuleError:
            bad.append(entry)
    return rules, bad


def endpoint_rule(url: str) -> Rule | None:
    """An LLM endpoint's base URL as a rule for exactly its host and port."""
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return None
    try:
        return parse_rule(parts.hostname, port)
    except RuleError:
        return None


def is_closed(address: Address, extra: Sequence[Network] = ()) -> bool:
    """In a range no tenant entry opens."""
    return any(
        address.version == net.version and address in net for net in (*CLOSED_RANGES, *extra)
    )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class Policy:
    """The rules for one worker: the installation's (admin) and its Project's (tenant)."""

    admin: tuple[Rule, ...]
    tenant: tuple[Rule, ...]
    denied: tuple[Network, ...] = ()

    def by_name(self, host: str, port: int) -> str | None:
        """'admin' or 'tenant' when a host-name rule allows host:port, else None
        (addresses are judged once the host is resolved: decide)."""
        if parse_address(host) is not None:
            return None
        name = normalize_host(host)
        if any(rule.matches_name(name, port) for rule in self.admin):
            return "admin"
        if any(rule.matches_name(name, port) for rule in self.tenant):
            return "tenant"
        return None

    def needs_addresses(self) -> bool:
        """Whether an address rule could allow what no host-name rule does."""
        return any(rule.network is not None for rule in (*self.admin, *self.tenant))

    def decide(
        self,
        host: str,
        port: int,
        addresses: Sequence[Address],
        is_local: Callable[[Address], bool] = lambda _address: False,
    ) -> Decision:
        """Whether the worker may connect to host:port, which resolved to addresses."""
        if not addresses:
            return Decision(False, "the host has no address")
        source = self.by_name(host, port)
        if source is None:
            if all(any(r.contains(a, port) for r in self.admin) for a in addresses):
                source = "admin"
            elif all(any(r.contains(a, port) for r in self.tenant) for a in addresses):
                source = "tenant"
            else:
                return Decision(False, "not in spec.network.egress")
        if source == "admin":
            return Decision(True)
        for address in addresses:
            if is_closed(address, self.denied) or is_local(address):
                return Decision(False, f"{address} is a private or local address")
        return Decision(True)
