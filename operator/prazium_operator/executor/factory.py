from __future__ import annotations

from prazium_operator.executor.base import Executor
from prazium_operator.settings import Settings


def make_executor(settings: Settings) -> Executor:
    if settings.executor == "kubernetes":
        from prazium_operator.executor.kubernetes import KubernetesExecutor

        return KubernetesExecutor(settings)
    from prazium_operator.executor.local import LocalExecutor

    return LocalExecutor(settings)
