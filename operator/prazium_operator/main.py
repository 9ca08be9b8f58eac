"""`python -m prazium_operator`: run the kopf operator with Prazium's settings."""

from __future__ import annotations

import logging

import kopf

from prazium_kit import kube, logs
from prazium_operator import heap, leader, metrics
from prazium_operator.agents.preload import preload_configured_agents
from prazium_operator.egress import service as egress
from prazium_operator.settings import get_settings


def main() -> None:
    settings = get_settings()
    # First, before any thread allocates: each would take an arena of its own.
    heap.cap_malloc_arenas(settings.malloc_arena_max)
    kopf.configure(verbose=settings.log_level.upper() == "DEBUG")
    # The kit's formatter instead of kopf's, so the operator's lines have the API's and
    # the worker's shape (the severity under "level", not kopf's "severity"); kopf's
    # reference to a handler's object (namespace, name) is kept as "object", and
    # prazium's own modules add namespace/run/task/attempt with extra= (executor/*.py).
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logs.formatter(settings.log_format))
    logging.getLogger().setLevel(settings.log_level.upper())
    preload_configured_agents()  # the LLM SDKs' imports take seconds: not in a planning step
    import prazium_operator.handlers  # noqa: F401  (registers the handlers)

    namespaces = settings.namespaces
    # Before the election: a standby answers /metrics too.
    metrics.serve(settings.operator_metrics_port, settings.operator_metrics_host)
    # Also before it: worker Pods may reach any replica's proxy (egress/service.py).
    egress.serve(settings)
    if settings.leader_election:
        kube.load_config(settings.kubeconfig)
        election = leader.LeaderElection(settings)
        election.acquire()  # a standby waits here, before kopf watches anything
        election.keep_renewing()
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=settings.liveness_endpoint or None,
    )


if __name__ == "__main__":
    main()
