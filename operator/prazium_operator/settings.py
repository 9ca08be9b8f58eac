"""Operator and worker settings, read once from the environment (prefix PRAZIUM_)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field

from prazium_kit.settings import KitSettings
from prazium_operator.worker_contract import ModelPrice


class Settings(KitSettings):
    """Settings of the operator and the worker, on top of the shared ones."""

    # Namespaces the operator watches; empty: all namespaces (cluster-wide).
    namespaces: list[str] = Field(default_factory=list)
    executor: Literal["local", "kubernetes"] = "local"
    # Upper bound on workers running at once in this operator (local executor).
    max_workers: int = 4
    # Kubernetes executor: create a task's Job (and a run's verification Job) while the
    # work before it still runs, its Pod waiting for a go signal (executor/prestart.py),
    # so the Pod start is paid meanwhile; at most max_prestarted such Pods wait at once
    # (default: max_workers), and only in room on the nodes that the free worker slots
    # will not need (executor/noderoom.py).
    prestart: bool = True
    max_prestarted: int | None = Field(default=None, ge=0)
    # How far ahead: 1 creates a Job once its task's dependencies all run or are done;
    # 2 also once they are themselves at level 1 (their Pods waiting), and so on. Tasks
    # shorter than a Pod's start (about 1.5 s under runc, 3 s under gVisor) leave a
    # level-1 Pod too little time to start.
    prestart_depth: int = Field(default=2, ge=1, le=10)
    # Local executor: fork each worker from a server that imported the worker once
    # (executor/forkserver.py) instead of starting a fresh interpreter per task.
    fork_server: bool = True
    # Seconds a single worker may run before it is killed and the task failed.
    task_deadline_seconds: int = 1800
    # Worker image and resources for the kubernetes executor.
    worker_image: str = "prazium/worker:0.1.0"
    # Never: the local node has its images imported and no registry to pull from.
    worker_image_pull_policy: Literal["IfNotPresent", "Never", "Always"] = "IfNotPresent"
    worker_cpu_request: str = "250m"
    worker_memory_request: str = "256Mi"
    worker_cpu_limit: str = "1"
    worker_memory_limit: str = "1Gi"
    repo_volume_claim: str = "prazium-repos"
    # The namespace worker Jobs run in: the operator's own (where the repo volume claim
    # and the database Secret live), never a tenant's. Default: the POD_NAMESPACE
    # environment variable, else prazium-system.
    job_namespace: str = Field(
        default_factory=lambda: os.environ.get("POD_NAMESPACE") or "prazium-system"
    )
    # ServiceAccount of worker Pods ("": the job namespace's default); no token is mounted.
    worker_service_account: str = ""
    # Verification (the generated app's own tests) time limit.
    verify_timeout_seconds: int = 600
    # Outages ridden out (a short database or apiserver outage must not fail runs): how
    # long journal writes (PostgreSQL) and the run driver's apiserver calls are retried,
    # with exponential backoff and jitter, before the error surfaces (the Run's daemon
    # then restarts and resumes from status).
    db_retry_seconds: float = 180.0
    apiserver_retry_seconds: float = 180.0
    # Local executor, operator not root: run `command` agents anyway, as the operator's
    # own user with a scrubbed environment (a single-tenant stack only; see README
    # "## Security"). As root they always run under a sandbox uid of their own.
    local_unsandboxed_commands: bool = False
    # A lost worker's re-run waits this long, doubled for each further attempt (+ jitter).
    lost_worker_backoff_seconds: float = 2.0
    # A node that stopped answering (kubernetes executor, executor/nodes.py): its
    # sandbox Pods tolerate its not-ready/unreachable taints this long before Kubernetes
    # evicts them (Kubernetes' default: 300 s) ...
    node_toleration_seconds: int = Field(default=30, ge=0)
    # ... and the operator itself judges it lost sooner: when its kubelet has not renewed
    # its Lease for this long (or its Ready condition is not True, or it is gone), the
    # attempts on it are lost and run again elsewhere. 0: left to Kubernetes alone.
    node_lost_seconds: float = Field(default=30.0, ge=0)
    # Leader election (prazium_operator/leader.py) on a coordination.k8s.io Lease, so
    # two or more operator processes can run: one leads, the others wait. A standby
    # takes over leader_lease_seconds after the leader stopped renewing. Off: one
    # process runs alone. The Lease lives in leader_lease_namespace (default: the job
    # namespace, the operator's own).
    leader_election: bool = False
    leader_lease_name: str = "prazium-operator"
    leader_lease_namespace: str = ""
    leader_lease_seconds: float = 8.0
    # Publishing (spec.publish, prazium_operator/publish.py): a push may take this long.
    # Plain http:// remotes are refused unless allowed (the credentials would cross
    # the network in the clear): for a remote inside a trusted network, or tests.
    publish_timeout_seconds: float = 300.0
    publish_allow_http: bool = False
    # Remotes on loopback or link-local addresses (the operator's own host, a
    # cloud's metadata service) are refused unless an admin allows them: a tenant
    # must not make the operator knock on its own ports. Tests' loopback git servers.
    publish_allow_private_targets: bool = False
    # Retention (etcd must not fill with finished Runs; prazium_operator/retention.py):
    # finished Runs beyond the newest retention_keep_last_runs of a Project (0: no
    # limit), or completed more than retention_max_age_hours ago (0: no limit), are
    # pruned from the cluster after being archived in PostgreSQL; a Project's
    # spec.retention overrides either per Project.
    # The newest finished Run of a Project always stays. Swept every
    # retention_interval_seconds.
    retention_keep_last_runs: int = Field(default=20, ge=0)
    retention_max_age_hours: int = Field(default=0, ge=0)
    retention_interval_seconds: float = Field(default=60.0, gt=0)
    # Journal retention: events (and the archived records of pruned Runs) older than this
    # many days are deleted; 0 keeps them forever.
    journal_retention_days: int = Field(default=0, ge=0)
    # glibc's malloc arenas for the operator's threads (prazium_operator/heap.py): a few
    # shared arenas instead of one per thread keep its memory lower at hundreds of runs.
    # 0 leaves glibc's default (eight per core); MALLOC_ARENA_MAX, if set, wins.
    malloc_arena_max: int = Field(default=2, ge=0)
    # e.g. http://0.0.0.0:8080/healthz for a Pod's liveness probe; empty: off.
    liveness_endpoint: str = ""
    # Prometheus /metrics of the operator (prazium_operator/metrics.py); port 0: off.
    # Taken by another process: logged, and the operator runs on without it.
    operator_metrics_port: int = Field(default=9464, ge=0, le=65535)
    operator_metrics_host: str = "0.0.0.0"
    # The RuntimeClass of worker and verification Pods (kubernetes executor): gvisor on
    # the local node (a kernel of its own for untrusted code), "" for the cluster's
    # default runtime. Read here only, applied by executor/sandboxing.py.
    worker_runtime_class: str = ""
    # The network policy gate of worker and verification Pods (policy_gate.py): their
    # untrusted code waits until, probed from inside the Pod, the apiserver's Service is
    # refused (the Pod's NetworkPolicy is in force), for at most
    # worker_policy_gate_seconds; past that the attempt is retried. Off only where
    # nothing enforces NetworkPolicy (the apiserver would stay reachable: every attempt
    # would fail), which leaves that window open.
    worker_policy_gate: bool = True
    worker_policy_gate_seconds: float = Field(default=20.0, gt=0)
    # The egress proxy (prazium_operator/egress/): worker Pods reach the network only
    # through it. listen: host:port in this process ("": no proxy, and worker Pods
    # reach nothing); url: what worker Pods are given as HTTP(S)_PROXY.
    egress_proxy_listen: str = ""
    egress_proxy_url: str = ""
    # Allowed for every Project besides its spec.network.egress and the LLM endpoints
    # (host names, *.domain, addresses, CIDRs; the admin's, so private ranges too).
    egress_allow: list[str] = Field(default_factory=list)
    # Closed for every Project on top of loopback, link-local and private ranges
    # (addresses and CIDRs; the cluster's Service and Pod ranges, say).
    egress_deny: list[str] = Field(default_factory=list)
    # The price table of the coding agents' models, per million tokens by the model name
    # a request names, in any one currency (PRAZIUM_PRICES, JSON: {"<model>": {"input":
    # 2, "output": 8, "cachedInput": 0.5, "cacheWriteInput": 2.5}}; cachedInput and
    # cacheWriteInput default to input). What usage costs in Task, Run and Project status
    # and what a budget's maxCost is judged by. Empty by default: no price is built in,
    # and a cost the table cannot tell is absent (unknown), never 0.
    prices: dict[str, ModelPrice] = Field(default_factory=dict)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
