"""Starting the egress proxy in the operator process, on a thread and event loop of its own.

It starts before the leader election (like /metrics), so every operator replica
serves it and a Service in front of them can pick any: it holds no state a
replica could lose (who asks is read from the apiserver, what is refused goes to
the Task's status, guarded by its resourceVersion). Its own loop keeps a flood of
connections from untrusted code away from the loop that drives the Runs.

PRAZIUM_EGRESS_PROXY_LISTEN (host:port) turns it on; worker Pods are given
PRAZIUM_EGRESS_PROXY_URL (executor/sandboxing.py). Off (the default outside the
local stack and the chart), workers get no proxy, and their NetworkPolicy lets
nothing out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping

from prazium_kit import kube
from prazium_operator.egress import rules
from prazium_operator.egress.proxy import MAX_HEAD_BYTES, EgressProxy
from prazium_operator.egress.report import Reporter
from prazium_operator.egress.workers import Directory
from prazium_operator.settings import Settings

log = logging.getLogger(__name__)

# The built-in LLM coders' base URLs, as agents/openai/client.py and
# agents/anthropic/client.py read them (their constants; tests/unit/test_egress.py
# checks they agree): Prazium's variable, then the SDK's, then the provider's default.
LLM_ENDPOINTS: tuple[tuple[tuple[str, str], str], ...] = (
    (("PRAZIUM_OPENAI_BASE_URL", "OPENAI_BASE_URL"), "https://api.openai.com/v1"),
    (("PRAZIUM_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"), "https://api.anthropic.com"),
)


def llm_endpoints(env: Mapping[str, str]) -> list[str]:
    """The base URL each built-in LLM coder of this installation uses."""
    urls = []
    for names, default in LLM_ENDPOINTS:
        urls.append(next((env[n].strip() for n in names if env.get(n, "").strip()), default))
    return urls


def admin_rules(settings: Settings, env: Mapping[str, str]) -> tuple[rules.Rule, ...]:
    """The installation's allowed destinations: its LLM endpoints (host and port) and
    PRAZIUM_EGRESS_ALLOW."""
    found = [r for url in llm_endpoints(env) if (r := rules.endpoint_rule(url)) is not None]
    extra, bad = rules.parse_rules(settings.egress_allow)
    if bad:
        raise ValueError(f"PRAZIUM_EGRESS_ALLOW: not a host name, address or CIDR: {bad}")
    return tuple(found + extra)


def denied_networks(settings: Settings) -> tuple[rules.Network, ...]:
    parsed, bad = rules.parse_rules(settings.egress_deny)
    if bad or any(rule.network is None for rule in parsed):
        raise ValueError(f"PRAZIUM_EGRESS_DENY takes addresses and CIDRs: {settings.egress_deny}")
    return tuple(rule.network for rule in parsed if rule.network is not None)


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"PRAZIUM_EGRESS_PROXY_LISTEN must be host:port, not {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve(settings: Settings) -> threading.Thread | None:
    """Start the proxy when configured; a listen address that cannot be bound is
    logged, and the operator runs on (its workers' connections then fail)."""
    if not settings.egress_proxy_listen:
        return None
    host, port = split_listen(settings.egress_proxy_listen)
    proxy = EgressProxy(
        Directory(settings.job_namespace).lookup,
        Reporter(settings.data_dir),
        admin_rules(settings, os.environ),
        denied_networks(settings),
    )
    kube.load_config(settings.kubeconfig)  # here, not in the thread: kopf's start-up loads it too
    started = threading.Event()
    thread = threading.Thread(
        target=_run, args=(proxy, host, port, started), name="egress-proxy", daemon=True
    )
    thread.start()
    started.wait(10)
    return thread


def _run(proxy: EgressProxy, host: str, port: int, started: threading.Event) -> None:
    asyncio.run(_main(proxy, host, port, started))


async def _main(proxy: EgressProxy, host: str, port: int, started: threading.Event) -> None:
    try:
        server = await asyncio.start_server(
            proxy.handle, host, port, limit=MAX_HEAD_BYTES, reuse_address=True
        )
    except OSError as exc:
        log.error(
            "egress proxy: cannot listen on %s:%s (%s): worker Pods reach nothing", host, port, exc
        )
        started.set()
        return
    log.info("egress proxy listening on %s:%s", host, port)
    started.set()
    stop = asyncio.Event()  # the thread is a daemon: it ends with the process
    async with server:
        await asyncio.gather(server.serve_forever(), proxy.reporter.flush_forever(stop))
