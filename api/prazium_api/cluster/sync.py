"""Synchronous contract routes over an asynchronous operator: patch the spec, then
wait (bounded) until status.observedGeneration catches up."""

from __future__ import annotations

from collections.abc import Callable

from prazium_api.cluster import crs
from prazium_api.contract.errors import ApiError, operator_timeout
from prazium_kit.types import Obj


def observed(obj: Obj, generation: int) -> bool:
    return int(obj.get("status", {}).get("observedGeneration") or 0) >= generation


def stalled_message(obj: Obj, generation: int) -> str | None:
    """The operator's refusal of this generation (condition Stalled=True), if any."""
    for condition in obj.get("status", {}).get("conditions") or []:
        if (
            condition.get("type") == "Stalled"
            and condition.get("status") == "True"
            and int(condition.get("observedGeneration") or generation) >= generation
        ):
            return str(condition.get("message") or condition.get("reason") or "stalled")
    return None


def wait_for_operator(
    namespace: str,
    plural: str,
    name: str,
    generation: int,
    ready: Callable[[Obj], bool],
    what: str,
    doing: str,
    timeout: float,
) -> Obj:
    """Wait until the operator observed `generation` and ready(obj) holds.

    A Stalled condition for that generation is answered as 409 CONFLICT with the
    operator's message; a timeout as 500 INTERNAL_ERROR (reason OPERATOR_TIMEOUT).
    """

    def done(obj: Obj) -> bool:
        if not observed(obj, generation):
            return False
        return ready(obj) or stalled_message(obj, generation) is not None

    obj = crs.wait_until(namespace, plural, name, done, timeout, what)
    if obj is None:
        raise operator_timeout(doing, timeout)
    if not ready(obj):
        message = stalled_message(obj, generation) or "the operator refused the change"
        raise ApiError("CONFLICT", f"{what}: {message}", {"reason": "OPERATOR_REFUSED"})
    return obj
