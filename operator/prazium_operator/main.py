"""`python -m prazium_operator`: run the kopf operator with Prazium's settings."""

from __future__ import annotations

import logging

import kopf

from prazium_kit import kube
from prazium_operator import leader, metrics
from prazium_operator.agents.preload import preload_configured_agents
from prazium_operator.settings import get_settings


def main() -> None:
    settings = get_settings()
    kopf.configure(
        # kopf's JSON lines carry the object (namespace, name) of handler logs; prazium's
        # own modules add namespace/run/task/attempt with extra= (executor/*.py).
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL,
        verbose=settings.log_level.upper() == "DEBUG",
    )
    logging.getLogger().setLevel(settings.log_level.upper())
    preload_configured_agents()  # the LLM SDKs' imports take seconds: not in a planning step
    import prazium_operator.handlers  # noqa: F401  (registers the handlers)

    namespaces = settings.namespaces
    # Before the election: a standby answers /metrics too.
    metrics.serve(settings.operator_metrics_port, settings.operator_metrics_host)
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
