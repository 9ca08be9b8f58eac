"""What makes a worker or verification Job a sandbox beyond its restricted securityContext:
the runtime and the way out.

* The RuntimeClass (PRAZIUM_WORKER_RUNTIME_CLASS): gvisor on the local node, so
  untrusted code talks to a kernel of its own (runsc) rather than the node's; "" leaves
  the cluster's default runtime.
* The egress proxy: a worker Pod gets HTTP_PROXY/HTTPS_PROXY (both spellings; curl
  reads only the lower-case http_proxy) pointing at the operator's proxy, and
  annotations that tell the proxy which task and attempt it runs and which hosts its
  Project allows (egress/workers.py reads them). The NetworkPolicy of worker Pods
  lets them reach the proxy and nothing else; verification Pods get no proxy and
  reach nothing.

* The network policy gate (prazium_operator/policy_gate.py): the Pod's process runs no
  untrusted code before its NetworkPolicy is in force; policy_gate_seconds() is what
  both Job builders pass it (0: off).

Both Job builders (kubernetes.py, verification.py) call one function here on the Job
they built, so neither has to know the details.
"""

from __future__ import annotations

import json
from typing import Any

from prazium_operator.egress import workers as egress_workers
from prazium_operator.settings import Settings
from prazium_operator.worker_contract import WorkerRequest

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
# Nothing bypasses the proxy (an inherited NO_PROXY=localhost would not matter in a
# Pod, but the proxy is the one way out, so say so).
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")


def _runtime(job: dict[str, Any], settings: Settings) -> None:
    if settings.worker_runtime_class:
        job["spec"]["template"]["spec"]["runtimeClassName"] = settings.worker_runtime_class


def policy_gate_seconds(settings: Settings) -> str:
    """The waiting process's --policy-gate: the gate's limit, "0" when it is off."""
    return f"{settings.worker_policy_gate_seconds:g}" if settings.worker_policy_gate else "0"


def proxy_env(settings: Settings) -> list[dict[str, str]]:
    if not settings.egress_proxy_url:
        return []
    url = settings.egress_proxy_url
    return [{"name": name, "value": url} for name in PROXY_VARIABLES] + [
        {"name": name, "value": ""} for name in NO_PROXY_VARIABLES
    ]


def worker_job(job: dict[str, Any], settings: Settings, request: WorkerRequest) -> dict[str, Any]:
    """A worker's Job made a sandbox: its runtime, its proxy, the annotations the proxy
    reads."""
    _runtime(job, settings)
    template = job["spec"]["template"]
    template.setdefault("metadata", {}).setdefault("annotations", {}).update(
        {
            egress_workers.TASK_NAME: job["metadata"]["annotations"][egress_workers.TASK_NAME],
            egress_workers.RUN_NAME: request.run,
            egress_workers.TASK_ID: request.task_id,
            egress_workers.ATTEMPT: str(request.attempt),
            egress_workers.EGRESS: json.dumps(list(request.egress)),
        }
    )
    for container in template["spec"]["containers"]:
        container.setdefault("env", []).extend(proxy_env(settings))
    return job


def verification_job(job: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A verification Job made a sandbox: its runtime (no proxy: it reaches nothing)."""
    _runtime(job, settings)
    return job
