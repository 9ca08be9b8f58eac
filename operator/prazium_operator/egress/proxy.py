"""The egress proxy: the one way out of a worker Pod.

Worker Pods get HTTP_PROXY/HTTPS_PROXY pointing here, and a NetworkPolicy that lets
them reach nothing else; verification Pods get neither. The proxy speaks what those
variables promise to every client that honours them (curl, git, pip, npm, the
OpenAI and Anthropic SDKs): CONNECT host:port for TLS (and anything else tunnelled),
and absolute-form requests (GET http://host/path) for plain HTTP, one request per
connection. It resolves the host itself, so the Pod needs no DNS, judges the
destination (egress/rules.py) and connects to the address it judged (a second
lookup could answer otherwise). A refusal is a 403 with a one-line reason, reported
to the Task (egress/report.py).

It never reads a body and never sees inside a tunnel: TLS stays end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from prazium_kit.timefmt import utc_now
from prazium_operator.egress import rules
from prazium_operator.egress.report import Refusal, Reporter
from prazium_operator.egress.workers import Worker

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
HEAD_SECONDS = 15.0
CONNECT_SECONDS = 10.0
RESOLVE_SECONDS = 10.0
CHUNK = 64 * 1024
MAX_CONNECTIONS_PER_WORKER = 64
MAX_CONNECTIONS = 1024
HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}

Lookup = Callable[[str], Awaitable[Worker | None]]


class BadRequest(Exception):
    """The client's request cannot be proxied (400, with this message)."""


@dataclass(frozen=True)
class Target:
    method: str
    host: str
    port: int
    # Plain HTTP: the request line rewritten to origin form, the client's headers.
    forward_head: bytes | None = None


def parse_head(head: bytes) -> Target:
    """The request's destination (CONNECT or an absolute http:// URL)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # latin-1 decodes any byte; kept for clarity
        raise BadRequest("the request head is not text") from exc
    request_line, _, rest = text.partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("not an HTTP/1.x request")
    method, target, version = parts
    if method == "CONNECT":
        host, sep, port_text = target.rpartition(":")
        if not sep or not host or not port_text.isdigit():
            raise BadRequest("CONNECT needs host:port")
        return Target(method, rules.normalize_host(host), _port(port_text))
    url = urlsplit(target)
    if url.scheme != "http" or not url.hostname:
        raise BadRequest("only CONNECT and absolute http:// URLs are proxied")
    try:
        port = url.port or 80
    except ValueError as exc:
        raise BadRequest("bad port") from exc
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    headers = [
        line
        for line in rest.split("\r\n")
        if line and line.split(":", 1)[0].strip().lower() not in HOP_BY_HOP
    ]
    forward = "\r\n".join([f"{method} {path} {version}", *headers, "Connection: close", "", ""])
    return Target(
        method, rules.normalize_host(url.hostname), _port(str(port)), forward.encode("latin-1")
    )


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise BadRequest("bad port")
    return port


def response(status: str, message: str) -> bytes:
    body = (message + "\n").encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        f"X-Prazium-Egress: {status[:3]}\r\n\r\n"
    ).encode() + body


def is_local_address(address: rules.Address) -> bool:
    """Whether address is one of this machine's own (a bind to it succeeds)."""
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
        return True
    except OSError:
        return False


class EgressProxy:
    def __init__(
        self,
        lookup: Lookup,
        reporter: Reporter,
        admin: tuple[rules.Rule, ...],
        denied: tuple[rules.Network, ...],
    ) -> None:
        self.lookup = lookup
        self.reporter = reporter
        self.admin = admin
        self.denied = denied
        self._open: dict[str, int] = {}
        self._connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "?"
        self._connections += 1
        try:
            if self._connections > MAX_CONNECTIONS:
                writer.write(response("503 Service Unavailable", "too many connections"))
                return
            await self._serve(client, reader, writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("egress proxy: request from %s failed", client)
        finally:
            self._connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(
        self, client: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_SECONDS)
        except asyncio.LimitOverrunError:
            writer.write(response("431 Request Header Fields Too Large", "request head too large"))
            return
        try:
            target = parse_head(head)
        except BadRequest as exc:
            writer.write(response("400 Bad Request", str(exc)))
            return
        worker = await self.lookup(client)
        if worker is None:
            log.warning("egress proxy: %s is not a Prazium worker Pod: refused", client)
            writer.write(response("403 Forbidden", "only Prazium worker Pods may use this proxy"))
            return
        if self._open.get(worker.pod, 0) >= MAX_CONNECTIONS_PER_WORKER:
            writer.write(response("429 Too Many Requests", "too many open connections"))
            return
        self._open[worker.pod] = self._open.get(worker.pod, 0) + 1
        try:
            await self._forward(worker, target, reader, writer)
        finally:
            self._open[worker.pod] -= 1
            if not self._open[worker.pod]:
                del self._open[worker.pod]

    async def _forward(
        self,
        worker: Worker,
        target: Target,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        tenant, bad = rules.parse_rules(worker.egress)
        if bad:
            log.warning("egress entries of %s ignored: %s", worker.describe(), bad)
        policy = rules.Policy(admin=self.admin, tenant=tuple(tenant), denied=self.denied)
        listed = policy.by_name(target.host, target.port) is not None
        addresses: list[rules.Address] = []
        if listed or policy.needs_addresses():
            addresses = await self._resolve(target.host, target.port)
        if listed and not addresses:
            writer.write(response("502 Bad Gateway", f"cannot resolve {target.host}"))
            return
        if addresses:
            decision = await asyncio.to_thread(
                policy.decide, target.host, target.port, addresses, is_local_address
            )
        else:  # neither listed by name nor resolvable to a listed address
            decision = rules.Decision(False, "not in spec.network.egress")
        if not decision.allowed:
            self.reporter.refused(
                Refusal(worker, target.host, target.port, utc_now(), decision.reason)
            )
            log.info(
                "egress blocked: %s:%s for %s: %s",
                target.host,
                target.port,
                worker.describe(),
                decision.reason,
            )
            writer.write(
                response(
                    "403 Forbidden",
                    f"blocked by Prazium's egress policy: {target.host}:{target.port}:"
                    f" {decision.reason}",
                )
            )
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(str(addresses[0]), target.port), CONNECT_SECONDS
            )
        except (TimeoutError, OSError) as exc:
            writer.write(
                response("502 Bad Gateway", f"cannot connect to {target.host}:{target.port}: {exc}")
            )
            return
        try:
            if target.forward_head is None:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up_writer.write(target.forward_head)
            await writer.drain()
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    async def _resolve(self, host: str, port: int) -> list[rules.Address]:
        literal = rules.parse_address(host)
        if literal is not None:
            return [literal]
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_SECONDS
            )
        except (TimeoutError, OSError):
            return []
        found: list[rules.Address] = []
        for info in infos:
            address = rules.parse_address(str(info[4][0]))
            if address is not None and address not in found:
                found.append(address)
        return found


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if sink.can_write_eof():
                sink.write_eof()
