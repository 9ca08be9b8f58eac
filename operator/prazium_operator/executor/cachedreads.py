"""Reads of a Job and its Pods served from the apiserver's watch cache.

The operator's looks at running workers are served by its own watches (jobwatch.py);
these reads are for what they do not hold yet: before a watch has listed, after it
broke, a Job created a moment ago. Read without a resourceVersion, each would be a
quorum read in etcd, and a Pod list by label scans every Pod of the job namespace there.
With resourceVersion=0 the apiserver answers from its watch cache, which lags etcd by
milliseconds. Only an absence is confirmed with a quorum read, since a Job created a
moment ago may not be in the cache yet and an absent Job means a lost worker.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

# The Python client's read_* calls cannot ask for resourceVersion=0; a list by name can.
CACHE = "0"


def read_job(namespace: str, name: str) -> Any:
    """Job name (from the watch cache, else from etcd); ApiException 404 when gone."""
    batch = client.BatchV1Api()
    found: Any = batch.list_namespaced_job(
        namespace, field_selector=f"metadata.name={name}", resource_version=CACHE
    )
    if found.items:
        return found.items[0]
    return batch.read_namespaced_job(name, namespace)


def list_pods(namespace: str, label_selector: str) -> Any:
    """The Pods of namespace matching label_selector, from the watch cache."""
    return client.CoreV1Api().list_namespaced_pod(
        namespace, label_selector=label_selector, resource_version=CACHE
    )
