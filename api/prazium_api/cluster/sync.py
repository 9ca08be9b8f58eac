"""Synchronous contract routes over an asynchronous operator: patch the spec, then
wait (bounded) until status.observedGeneration catches up."""

from __future__ import annotations

from collections.abc import Callable

from prazium_api.cluster import crs
from prazium_api.contract.errors import ApiError, operator_timeout
from prazium_kit.kinds import PROJECT, Project
from prazium_kit.models import ProjectStatus


def observed(status: ProjectStatus, generation: int) -> bool:
    return int(status.observed_generation or 0) >= generation


def stalled_message(status: ProjectStatus, generation: int) -> str | None:
    """The operator's refusal of this generation (condition Stalled=True), if any."""
    for condition in status.conditions or []:
        if (
            condition.type == "Stalled"
            and condition.status == "True"
            and int(condition.observed_generation or generation) >= generation
        ):
            return str(condition.message or condition.reason or "stalled")
    return None


def wait_for_operator(
    namespace: str,
    name: str,
    generation: int,
    ready: Callable[[Project], bool],
    what: str,
    doing: str,
    timeout: float,
) -> Project:
    """Wait until the operator observed `generation` of the Project and ready(it) holds.

    A Stalled condition for that generation is answered as 409 CONFLICT with the
    operator's message; a timeout as 500 INTERNAL_ERROR (reason OPERATOR_TIMEOUT).
    """

    def done(project: Project) -> bool:
        if not observed(project.status, generation):
            return False
        return ready(project) or stalled_message(project.status, generation) is not None

    project = crs.wait_until(namespace, PROJECT, name, done, timeout, what)
    if project is None:
        raise operator_timeout(doing, timeout)
    if not ready(project):
        message = stalled_message(project.status, generation) or "the operator refused the change"
        raise ApiError("CONFLICT", f"{what}: {message}", {"reason": "OPERATOR_REFUSED"})
    return project
