"""Operator start-up: settings, API login, schema, and a heartbeat for health checks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import kopf
import psycopg

from prazium_kit import db, kube
from prazium_operator import metrics, recorder, retention, retrying
from prazium_operator.executor import make_executor, noderoom
from prazium_operator.executor.prestart import prestarter
from prazium_operator.reconcilers.run.wakeup import Wakeups
from prazium_operator.settings import get_settings

HEARTBEAT_SECONDS = 5.0
log = logging.getLogger(__name__)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's own kubeconfig login, pointed at PRAZIUM_KUBECONFIG when it is set; in a
    Pod, the ServiceAccount's token."""
    kubeconfig = get_settings().kubeconfig
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
        return kopf.login_with_kubeconfig(**kwargs)
    info = kopf.login_with_service_account(**kwargs)
    if info is None:
        return kopf.login_with_kubeconfig(**kwargs)
    return dataclasses.replace(info, server=in_cluster_server(info.server))


def in_cluster_server(default: str) -> str:
    """The apiserver's address in a Pod, from the kubernetes Service's environment as
    client-go and the official Python client take it (kopf names
    kubernetes.default.svc, which a cluster without DNS cannot resolve)."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return default
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"https://{host}:{port}"


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    prazium = get_settings()
    kube.load_config(prazium.kubeconfig)
    kube.share_client(prazium.max_workers + 8)  # workers' threads plus handlers
    # Started during a PostgreSQL outage, the operator waits for it rather than crash
    # (and be restarted into the same outage, over and over).
    await asyncio.to_thread(
        retrying.call,
        functools.partial(db.migrate, prazium.database_url),
        window=prazium.db_retry_seconds,
        transient=retrying.database_outage,
        what="schema migration",
    )
    # Status is written through the status subresource; keep kopf's own
    # bookkeeping in annotations so `kubectl get -o yaml` stays readable.
    settings.persistence.finalizer = "prazium.io/finalizer"
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    # kopf's own requests (watches, patches, Kubernetes Events) retry through an
    # apiserver outage as long as the run driver's calls do (its default gives up
    # after ~54 s, and a watcher that gives up stops the operator).
    settings.networking.error_backoffs = list(
        retrying.delays(prazium.apiserver_retry_seconds, first=1.0, cap=15.0)
    )
    # Run daemons do their blocking calls (Kubernetes API, git, PostgreSQL) in
    # threads; the default pool (cpu + 4) would let a few busy runs starve the rest.
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="prazium")
    )
    memo.executor = make_executor(prazium)
    memo.wakeups = Wakeups(functools.partial(free_slots, memo.executor))
    keeper = noderoom.keeper(memo.executor)
    if keeper is not None:
        # A read of the nodes may show room that tasks wait for: offer it (in the loop).
        loop = asyncio.get_running_loop()
        keeper.node_room.on_refresh(lambda: _in_loop(loop, memo.wakeups.offer))
    metrics.watch_workers(lambda: int(getattr(memo.executor, "active", 0)), prazium.max_workers)
    memo.instance = f"{socket.gethostname()}-{os.getpid()}"
    memo.active_workers = 0
    memo.planning = {}  # (namespace, project) -> its planning task (reconcilers/project)
    memo.heartbeat_stop = asyncio.Event()
    memo.heartbeat_task = asyncio.get_running_loop().create_task(
        heartbeat(memo, memo.heartbeat_stop)
    )
    memo.retention_task = asyncio.get_running_loop().create_task(
        retention.sweep_forever(prazium, memo.heartbeat_stop)
    )


@kopf.on.cleanup()
async def stop_heartbeat(memo: kopf.Memo, **_: Any) -> None:
    for entry in list(memo.planning.values()):
        entry.task.cancel()  # unfinished planning starts again on the next start (resume)
    await memo.executor.shutdown()
    memo.heartbeat_stop.set()
    await memo.heartbeat_task
    await memo.retention_task
    await asyncio.to_thread(recorder.close_pools)


def _in_loop(loop: asyncio.AbstractEventLoop, call: Callable[[], None]) -> None:
    loop.call_soon_threadsafe(call)


def free_slots(executor: Any) -> int:
    """How many more workers the executor may start now (1 while it has capacity, if it
    does not say how many), as far as the nodes have room for their Pods (when known).
    With no room but Pods created ahead, one: the run woken starts the task its Pod
    waits for or gives that Pod up for room (noderoom.py), so the two never wait for
    one another."""
    if not executor.has_capacity():
        return 0
    limit, active = getattr(executor, "max_workers", None), getattr(executor, "active", None)
    free = max(1, limit - active) if isinstance(limit, int) and isinstance(active, int) else 1
    keeper = noderoom.keeper(executor)
    places = keeper.node_room.places_now() if keeper is not None else None
    if keeper is None or places is None or places >= free:
        return free
    ahead = prestarter(executor)
    if places == 0 and ahead is not None and ahead.room.waiting and not keeper.node_room.freeing:
        return 1
    return places


async def heartbeat(memo: kopf.Memo, stop: asyncio.Event) -> None:
    """Upsert this operator's heartbeat row until the operator stops.

    A database hiccup is logged and retried: losing a beat must not stop the operator.
    """
    prazium = get_settings()
    while not stop.is_set():
        try:
            await _beat_until_stopped(
                memo, stop, prazium.database_url, prazium.executor, prazium.max_workers
            )
        except psycopg.Error as exc:
            log.warning("heartbeat failed, retrying: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)


async def _beat_until_stopped(
    memo: kopf.Memo, stop: asyncio.Event, dsn: str, executor: str, max_workers: int
) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            await conn.execute(
                "INSERT INTO operator_heartbeats (instance, executor, max_workers, active_workers)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (instance) DO UPDATE SET"
                " last_seen = now(), active_workers = EXCLUDED.active_workers",
                (memo.instance, executor, max_workers, getattr(memo.executor, "active", 0)),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)
        await conn.execute("DELETE FROM operator_heartbeats WHERE instance = %s", (memo.instance,))
