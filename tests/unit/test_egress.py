"""The egress proxy's decisions, its protocol handling and what it reports (no services:
the proxy itself runs on loopback; with real worker Pods: tests/integration/test_egress.py)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import pytest

from prazium_kit.models import EgressStatus
from prazium_operator.egress import rules, service
from prazium_operator.egress.proxy import BadRequest, EgressProxy, parse_head
from prazium_operator.egress.report import (
    FURTHER_NOT_LOGGED,
    MAX_ENTRIES,
    MAX_LOG_LINES,
    Refusal,
    Reporter,
    append_line,
    merge,
)
from prazium_operator.egress.workers import Worker
from prazium_operator.executor.kubernetes import build_job
from prazium_operator.executor.verification import JobRunner, build_verification_job
from prazium_operator.settings import Settings
from prazium_operator.worker_contract import WorkerRequest

PUBLIC = [ipaddress.ip_address("198.51.100.7")]
LOOPBACK = [ipaddress.ip_address("127.0.0.1")]


def _policy(tenant: list[str], admin: list[rules.Rule] | None = None) -> rules.Policy:
    parsed, bad = rules.parse_rules(tenant)
    assert not bad
    return rules.Policy(admin=tuple(admin or ()), tenant=tuple(parsed))


def test_entries_parse_as_host_names_suffixes_and_networks() -> None:
    assert rules.parse_rule("API.Example.com.") == rules.Rule(host="api.example.com")
    assert rules.parse_rule("*.example.com") == rules.Rule(host="example.com", suffix=True)
    assert rules.parse_rule("203.0.113.7").network == ipaddress.ip_network("203.0.113.7/32")
    assert rules.parse_rule("2001:db8::/32").network == ipaddress.ip_network("2001:db8::/32")
    for bad in ("", "*", "*.", "a..b", "-a.com", "a b", "http://x", "300.1.1.1/8", "x" * 254):
        with pytest.raises(rules.RuleError):
            rules.parse_rule(bad)
    parsed, bad_entries = rules.parse_rules(["ok.example", "not a host"])
    assert [r.host for r in parsed] == ["ok.example"] and bad_entries == ["not a host"]


def test_a_listed_host_is_allowed_on_any_port_and_nothing_else_is() -> None:
    policy = _policy(["pypi.org", "*.github.com"])
    assert policy.decide("pypi.org", 443, PUBLIC).allowed
    assert policy.decide("PyPI.org.", 8080, PUBLIC).allowed
    assert policy.decide("api.github.com", 443, PUBLIC).allowed
    # *.domain is its subdomains, not the domain, and no look-alike.
    assert not policy.decide("github.com", 443, PUBLIC).allowed
    assert not policy.decide("evilgithub.com", 443, PUBLIC).allowed
    refused = policy.decide("example.org", 443, PUBLIC)
    assert not refused.allowed and refused.reason == "not in spec.network.egress"
    assert not _policy([]).decide("pypi.org", 443, PUBLIC).allowed


def test_a_tenant_entry_never_opens_local_or_private_addresses() -> None:
    # The tenant's own domain pointed at the node: the name is listed, the address is not.
    policy = _policy(["mine.example", "0.0.0.0/0"])
    for address in ("127.0.0.1", "10.244.0.1", "169.254.169.254", "192.168.1.1", "::1"):
        decision = policy.decide("mine.example", 5433, [ipaddress.ip_address(address)])
        assert not decision.allowed and "private or local" in decision.reason, address
    # A listed CIDR covering them does not either; an IPv4-mapped address is its IPv4 one.
    mapped = rules.parse_address("::ffff:127.0.0.1")
    assert mapped == ipaddress.ip_address("127.0.0.1")
    assert not policy.decide("::ffff:127.0.0.1", 80, [mapped]).allowed
    # One closed address among several closes the host (no DNS tricks).
    assert not policy.decide("mine.example", 443, [*PUBLIC, *LOOPBACK]).allowed
    # The proxy machine's own public address is closed too.
    assert not policy.decide("mine.example", 443, PUBLIC, lambda a: a in PUBLIC).allowed
    extra = rules.Policy(
        admin=(), tenant=policy.tenant, denied=(ipaddress.ip_network("198.51.100.0/24"),)
    )
    assert not extra.decide("mine.example", 443, PUBLIC).allowed


def test_cidr_entries_judge_every_address_the_host_resolves_to() -> None:
    policy = _policy(["198.51.100.0/24"])
    assert policy.needs_addresses()
    assert policy.decide("198.51.100.7", 22, PUBLIC).allowed
    assert policy.decide("cdn.example", 443, PUBLIC).allowed
    other = [ipaddress.ip_address("203.0.113.9")]
    assert not policy.decide("cdn.example", 443, [*PUBLIC, *other]).allowed
    assert not _policy(["pypi.org"]).needs_addresses()


def test_the_llm_endpoints_are_allowed_on_their_port_even_on_loopback() -> None:
    admin = tuple(
        r
        for r in (rules.endpoint_rule(u) for u in ("http://127.0.0.1:8000/v1", "https://api.x.ai"))
        if r is not None
    )
    policy = rules.Policy(admin=admin, tenant=())
    assert policy.decide("127.0.0.1", 8000, LOOPBACK).allowed
    assert not policy.decide("127.0.0.1", 5433, LOOPBACK).allowed
    assert policy.decide("api.x.ai", 443, PUBLIC).allowed
    assert not policy.decide("api.x.ai", 80, PUBLIC).allowed
    assert rules.endpoint_rule("ftp://x/") is None and rules.endpoint_rule("http://") is None


def _constants(module: str) -> dict[str, str]:
    """A module's string constants, read from its source (importing the SDKs takes seconds)."""
    import ast

    import prazium_operator

    source = Path(prazium_operator.__file__).parent / module
    found: dict[str, str] = {}
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def test_endpoints_follow_the_agents_own_settings() -> None:
    expected = []
    for module in ("agents/openai/client.py", "agents/anthropic/client.py"):
        c = _constants(module)
        expected.append(((c["BASE_URL_ENV"], c["SDK_BASE_URL_ENV"]), c["DEFAULT_BASE_URL"]))
    assert list(service.LLM_ENDPOINTS) == expected
    env = {"OPENAI_BASE_URL": "http://vllm:8000/v1", "PRAZIUM_ANTHROPIC_BASE_URL": " "}
    assert service.llm_endpoints(env) == ["http://vllm:8000/v1", "https://api.anthropic.com"]
    settings = Settings(egress_allow=["pypi.org"], egress_deny=["10.96.0.0/12"])
    hosts = {(r.host, r.port) for r in service.admin_rules(settings, env)}
    assert hosts == {("vllm", 8000), ("api.anthropic.com", 443), ("pypi.org", None)}
    assert service.denied_networks(settings) == (ipaddress.ip_network("10.96.0.0/12"),)
    with pytest.raises(ValueError):
        service.denied_networks(Settings(egress_deny=["example.com"]))
    assert service.split_listen("10.244.0.1:3128") == ("10.244.0.1", 3128)
    assert service.split_listen(":3128") == ("0.0.0.0", 3128)


def test_requests_are_read_as_connect_or_absolute_http() -> None:
    connect = parse_head(b"CONNECT Api.Example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (connect.method, connect.host, connect.port, connect.forward_head) == (
        "CONNECT",
        "api.example.com",
        443,
        None,
    )
    plain = parse_head(
        b"GET http://example.com/a?b=1 HTTP/1.1\r\nHost: example.com\r\n"
        b"Proxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\n\r\n"
    )
    assert (plain.host, plain.port) == ("example.com", 80)
    assert plain.forward_head == (
        b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
    )
    for bad in (
        b"GET /relative HTTP/1.1\r\n\r\n",
        b"GET https://example.com/ HTTP/1.1\r\n\r\n",
        b"CONNECT example.com HTTP/1.1\r\n\r\n",
        b"CONNECT example.com:0 HTTP/1.1\r\n\r\n",
        b"CONNECT example.com:443 SPDY/3\r\n\r\n",
    ):
        with pytest.raises(BadRequest):
            parse_head(bad)


def _worker(attempt: int = 1) -> Worker:
    return Worker(
        pod="w-1",
        namespace="t1",
        run="shop-1",
        task_name="shop-1-task-001",
        task_id="task-001",
        attempt=attempt,
        egress=(),
    )


def _refusal(host: str, port: int = 443, attempt: int = 1) -> Refusal:
    return Refusal(
        _worker(attempt), host, port, "2026-01-01T00:00:00Z", "not in spec.network.egress"
    )


def test_status_keeps_one_entry_per_destination_with_counts_and_a_cap() -> None:
    merged = merge(
        None, [_refusal("a.example"), _refusal("a.example"), _refusal("b.example", 80)], 3
    )
    assert [(e.host, e.port, e.count) for e in merged.blocked] == [
        ("a.example", 443, 2),
        ("b.example", 80, 1),
    ]
    assert merged.blocked_total == 3
    again = merge(merged, [_refusal("a.example", attempt=2)], 1)
    assert again.blocked[0].count == 3 and again.blocked[0].attempt == 1
    assert merged.blocked[0].count == 2  # merge leaves its input alone
    many = merge(EgressStatus(), [_refusal(f"h{i}.example") for i in range(80)], 5000)
    assert len(many.blocked) == MAX_ENTRIES and many.blocked_total == 5000
    dumped = again.model_dump(by_alias=True, exclude_none=True)
    assert dumped["blockedTotal"] == 4 and dumped["blocked"][0]["time"] == "2026-01-01T00:00:00Z"


def test_log_lines_are_appended_capped_and_never_through_a_symlink(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path)
    log = tmp_path / "results" / "t1" / "shop-1" / "task-001-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("worker pod w-1: uid=10001\n")
    reporter._write_log([_refusal("a.example")])
    lines = log.read_text().splitlines()
    assert lines[1] == (
        "[prazium: egress blocked: a.example:443 at 2026-01-01T00:00:00Z:"
        " not in spec.network.egress]"
    )
    reporter._write_log([_refusal(f"h{i}.example") for i in range(2 * MAX_LOG_LINES)])
    reporter._write_log([_refusal("late.example")])
    lines = log.read_text().splitlines()
    assert len(lines) == 1 + MAX_LOG_LINES and lines[-1] == FURTHER_NOT_LOGGED.strip()
    # A worker that swapped its log for a link to another file writes nothing there.
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    os.unlink(log)
    log.symlink_to(victim)
    append_line(log, "x\n")
    assert victim.read_text() == "untouched\n"
    append_line(tmp_path / "missing.log", "x\n")
    assert not (tmp_path / "missing.log").exists()


def _request(**overrides: Any) -> WorkerRequest:
    fields: dict[str, Any] = dict(
        namespace="t1",
        project="shop",
        run="shop-1",
        task={"id": "task-001", "slug": "shell", "pathScope": ["app/**"], "dependencies": []},
        documents={},
        repo_path="/data/repos/t1/shop.git",
        worktree="/data/workspaces/t1/shop/wt/task-001",
        branch="b",
        base_commit="abc",
        attempt=2,
        result_path="/data/results/t1/shop-1/task-001-2.json",
        egress=("pypi.org", "198.51.100.0/24"),
    )
    fields.update(overrides)
    return WorkerRequest(**fields)


def test_worker_jobs_get_the_runtime_the_proxy_and_the_annotations_it_reads() -> None:
    settings = Settings(
        data_dir=Path("/data"),
        worker_runtime_class="gvisor",
        egress_proxy_url="http://10.244.0.1:3128",
    )
    owner = {"metadata": {"name": "shop-1-task-001", "uid": "u"}}
    job = build_job(_request(), owner, settings)
    template = job["spec"]["template"]
    assert template["spec"]["runtimeClassName"] == "gvisor"
    assert template["metadata"]["labels"]["prazium.io/role"] == "worker"
    notes = template["metadata"]["annotations"]
    assert notes["prazium.io/task-name"] == "shop-1-task-001"
    assert notes["prazium.io/task-id"] == "task-001"
    assert notes["prazium.io/run-name"] == "shop-1" and notes["prazium.io/attempt"] == "2"
    assert json.loads(notes["prazium.io/egress"]) == ["pypi.org", "198.51.100.0/24"]
    env = {e["name"]: e["value"] for e in template["spec"]["containers"][0]["env"]}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert env[name] == "http://10.244.0.1:3128"
    assert env["NO_PROXY"] == "" and env["no_proxy"] == ""
    # The request file (read back by the operator) keeps the entries.
    assert WorkerRequest.from_json(_request().to_json()).egress == ("pypi.org", "198.51.100.0/24")

    plain = build_job(_request(), owner, Settings(data_dir=Path("/data")))
    assert "runtimeClassName" not in plain["spec"]["template"]["spec"]
    plain_env = plain["spec"]["template"]["spec"]["containers"][0]["env"]
    assert not any("PROXY" in e["name"].upper() for e in plain_env)


def test_verification_jobs_get_the_runtime_and_no_proxy() -> None:
    settings = Settings(
        data_dir=Path("/data"), worker_runtime_class="gvisor", egress_proxy_url="http://p:3128"
    )
    runner = JobRunner(settings, "t1", "shop", "shop-1")
    job = build_verification_job(settings, runner, "verify-abc", ["python", "-m", "unittest"], 60)
    pod = job["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "gvisor"
    assert job["spec"]["template"]["metadata"]["labels"]["prazium.io/role"] == "verification"
    assert not any("PROXY" in e["name"].upper() for e in pod["containers"][0]["env"])


class _Recorder(Reporter):
    def __init__(self) -> None:
        super().__init__(Path("/nonexistent"))
        self.seen: list[Refusal] = []

    def refused(self, refusal: Refusal) -> None:
        self.seen.append(refusal)


async def _upstream() -> tuple[asyncio.AbstractServer, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = b"upstream saw " + head.split(b"\r\n", 1)[0]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _ask(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


def test_the_proxy_tunnels_forwards_and_refuses_over_real_sockets() -> None:
    async def scenario() -> None:
        upstream, up_port = await _upstream()
        recorder = _Recorder()
        known = {"127.0.0.1": _worker()}

        async def lookup(address: str) -> Worker | None:
            return known.get(address)

        admin = (rules.Rule(network=ipaddress.ip_network("127.0.0.1/32"), port=up_port),)
        proxy = EgressProxy(lookup, recorder, admin, ())
        server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with upstream, server:
            # CONNECT: a tunnel, then whatever the client sends.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"CONNECT 127.0.0.1:{up_port} HTTP/1.1\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.write(b"GET /tunnelled HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"upstream saw GET /tunnelled" in await asyncio.wait_for(reader.read(), 10)
            writer.close()
            # Plain HTTP: the request line in origin form.
            plain = await _ask(
                port, f"GET http://127.0.0.1:{up_port}/p?q=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            assert b"upstream saw GET /p?q=1 HTTP/1.1" in plain
            # Another port on loopback: refused, reported, nothing connected.
            refused = await _ask(port, b"CONNECT 127.0.0.1:5433 HTTP/1.1\r\n\r\n")
            assert refused.startswith(b"HTTP/1.1 403") and b"127.0.0.1:5433" in refused
            unlisted = await _ask(port, b"CONNECT 198.51.100.7:443 HTTP/1.1\r\n\r\n")
            assert unlisted.startswith(b"HTTP/1.1 403")
            assert [(r.host, r.port) for r in recorder.seen] == [
                ("127.0.0.1", 5433),
                ("198.51.100.7", 443),
            ]
            assert await _ask(port, b"BREW /pot HTTP/1.1\r\n\r\n") != b""
            # A client that is not a worker Pod gets nothing and reports nothing.
            known.clear()
            stranger = await _ask(port, f"CONNECT 127.0.0.1:{up_port} HTTP/1.1\r\n\r\n".encode())
            assert stranger.startswith(b"HTTP/1.1 403") and len(recorder.seen) == 2

    asyncio.run(scenario())


def test_one_lookup_per_address_and_strangers_are_remembered() -> None:
    """Connections from one address share one search; an address that is no worker is
    answered from the cache afterwards (no apiserver request per connection)."""
    from prazium_operator.egress.workers import Directory

    searches: list[str] = []

    class Counting(Directory):
        async def _search(self, address: str) -> Worker | None:
            searches.append(address)
            await asyncio.sleep(0.05)
            return _worker() if address == "10.0.0.5" else None

    async def scenario() -> None:
        directory = Counting("jobs")
        found = await asyncio.gather(*(directory.lookup("10.0.0.5") for _ in range(20)))
        assert all(w == _worker() for w in found)
        strangers = await asyncio.gather(*(directory.lookup("10.0.0.9") for _ in range(20)))
        assert strangers == [None] * 20
        assert await directory.lookup("10.0.0.9") is None
        assert await directory.lookup("10.0.0.5") == _worker()

    asyncio.run(scenario())
    assert searches == ["10.0.0.5", "10.0.0.9"]
