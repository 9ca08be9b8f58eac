"""`python -m prazium_operator`: run the kopf operator with Prazium's settings."""

from __future__ import annotations

import logging

import kopf

from prazium_kit import kube
from prazium_operator import leader
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
    if settings.peering_name:
        kube.load_config(settings.kubeconfig)
        leader.ensure_peering_objects(settings)
    kopf.run(
        # With a peering name, processes elect a leader (leader.py); without, one runs.
        standalone=not settings.peering_name,
        peering_name=settings.peering_name or None,
        priority=leader.priority_now(),
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=settings.liveness_endpoint or None,
    )


if __name__ == "__main__":
    main()
