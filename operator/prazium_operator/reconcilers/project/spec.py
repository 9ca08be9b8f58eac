"""A Project's way from description to approved spec, as one idempotent step.

:func:`reconcile` reads spec and status and returns the status fields to merge:
questions, spec {version, documents, source, revision, answersDigest,
approvedAt, approvedVersion, commitSha}, repoPath, phase, message, conditions.
Called again with the status it produced, it changes nothing.

:func:`planning_needed` says whether a step would ask the planner (which may
take minutes); :class:`PlannerCalls` remembers the planner's answers (and
failures) by their inputs, so the same step recomputed on a fresher status
(after a write conflict) does not ask again. The reconciler in
handlers/project.py uses both to keep planner calls off its handler.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prazium_kit import paths
from prazium_operator import conditions, gitrepo, projectstate
from prazium_operator.agents import SPEC_DOCUMENTS, AgentError, get_planner
from prazium_operator.agents.registry import agent_options
from prazium_operator.conditions import now_iso

SPEC_DIR = "docs/spec"


def answers_digest(answers: list[dict[str, Any]]) -> str:
    canonical = json.dumps(sorted(answers, key=lambda a: str(a.get("questionId"))),
                           sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class PlannerCalls:
    """The planner's answers by their inputs: each call asked at most once per instance."""

    def __init__(self) -> None:
        self._outcomes: dict[str, tuple[bool, Any]] = {}

    def call(self, what: Callable[..., Any], *args: Any) -> Any:
        key = json.dumps([getattr(what, "__qualname__", repr(what)), args], sort_keys=True,
                         default=str)
        if key not in self._outcomes:
            try:
                self._outcomes[key] = (True, what(*args))
            except AgentError as exc:
                self._outcomes[key] = (False, exc)
        ok, value = self._outcomes[key]
        if not ok:
            raise value
        return value


def planning_needed(spec: dict[str, Any], status: dict[str, Any]) -> bool:
    """Whether reconcile() would call the planner (clarify or write_spec) for this state."""
    if spec.get("archived") or spec.get("specDocuments"):
        return False
    if not status.get("questions"):
        return True
    answers = spec.get("answers")
    return answers is not None and _stale(spec, dict(status.get("spec") or {}), answers)


def _stale(spec: dict[str, Any], current: dict[str, Any], answers: list[dict[str, Any]]
           ) -> bool:
    """Whether the generated documents do not match these answers and revision."""
    revision = int((spec.get("regenerate") or {}).get("revision") or 0)
    return (
        not int(current.get("version") or 0) or current.get("source") != "generated"
        or current.get("answersDigest") != answers_digest(answers)
        or revision > int(current.get("revision") or 0)
    )


def reconcile(data_dir: Path, namespace: str, name: str, spec: dict[str, Any],
              status: dict[str, Any], generation: int | None,
              calls: PlannerCalls | None = None) -> dict[str, Any]:
    repo = paths.repo_path(data_dir, namespace, name)
    gitrepo.init_bare(repo)
    out: dict[str, Any] = {"repoPath": str(repo), "message": ""}
    current = dict(status.get("spec") or {})
    archived = bool(spec.get("archived"))
    blocked = reason = ""
    if not archived:
        try:
            new_spec, extra = _next_spec(spec, status, current, calls or PlannerCalls())
        except (UnknownAgent, AgentError) as exc:
            # Retrying blindly cannot help: say why and stall until the spec (or the
            # agent's endpoint and credentials) change; any edit of the Project retries.
            blocked = out["message"] = str(exc)
            reason = "UnknownAgent" if isinstance(exc, UnknownAgent) else "AgentFailed"
        else:
            out.update(extra)
            if new_spec is not None:
                new_spec = _apply_approval(repo, spec, new_spec, out)
                if new_spec != current:
                    out["spec"] = new_spec
    merged = {**status, **out}
    out["phase"] = projectstate.project_phase(merged, archived)
    merged["phase"] = out["phase"]
    out["conditions"] = (
        conditions.build(status.get("conditions"), generation, ready=False, reconciling=False,
                         stalled=True, reason=reason, message=blocked)
        if blocked else projectstate.project_conditions(merged, generation)
    )
    out["observedGeneration"] = generation
    return out


class UnknownAgent(ValueError):
    """spec.agent names a planner this installation does not have."""


def _next_spec(spec: dict[str, Any], status: dict[str, Any], current: dict[str, Any],
               calls: PlannerCalls) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The spec state this generation calls for (None: none yet) and other status fields."""
    extra: dict[str, Any] = {}
    version = int(current.get("version") or 0)
    regenerate = spec.get("regenerate") or {}
    revision = int(regenerate.get("revision") or 0)
    provided = spec.get("specDocuments")
    if provided:
        documents = {key: provided[key] for key in SPEC_DOCUMENTS}
        if current.get("source") == "provided" and current.get("documents") == documents:
            return current, extra
        return _fresh(version, documents, "provided", revision, ""), extra

    try:
        chosen = spec.get("agent") or {}
        planner = get_planner(chosen.get("planner") or "template", **agent_options(chosen))
    except ValueError as exc:
        raise UnknownAgent(f"spec.agent.planner: {exc}") from exc
    if not status.get("questions"):
        extra["questions"] = calls.call(planner.clarify, spec["displayName"],
                                        spec["description"])
    answers = spec.get("answers")
    if answers is None:
        return (current or None), extra
    digest = answers_digest(answers)
    if not _stale(spec, current, answers):
        return current, extra
    feedback = regenerate.get("feedback") if revision > int(current.get("revision") or 0) else None
    answer_map = {str(a["questionId"]): a.get("answer") for a in answers}
    documents = calls.call(planner.write_spec, spec["displayName"], spec["description"],
                           answer_map, feedback, revision)
    return _fresh(version, dict(documents), "generated", revision, digest), extra


def _fresh(version: int, documents: dict[str, str], source: str, revision: int,
           digest: str) -> dict[str, Any]:
    # A new version clears the approval: it was given to the previous one.
    return {"version": version + 1, "documents": documents, "source": source,
            "revision": revision, "answersDigest": digest, "approvedAt": None,
            "approvedVersion": None, "commitSha": None}


def _apply_approval(repo: Path, spec: dict[str, Any], state: dict[str, Any],
                    out: dict[str, Any]) -> dict[str, Any]:
    wanted = (spec.get("approval") or {}).get("specVersion")
    version = state.get("version")
    if wanted is None or state.get("approvedVersion") == version:
        return state
    if wanted != version:
        out["message"] = (f"spec.approval.specVersion is {wanted} but the current spec version"
                          f" is {version}; approve version {version} to build it")
        return state
    approved_at = now_iso()
    commit = commit_spec(repo, state["documents"], version, approved_at)
    return {**state, "approvedVersion": version, "approvedAt": approved_at, "commitSha": commit}


def commit_spec(repo: Path, documents: dict[str, str], version: int, date: str) -> str:
    """Commit the approved documents under docs/spec/ on main (compare-and-swap, retried)."""
    files = {f"{SPEC_DIR}/{key}": text for key, text in documents.items()}
    for _ in range(20):
        main = gitrepo.rev_parse(repo, gitrepo.MAIN)
        assert main is not None
        commit = gitrepo.commit_files(repo, main, files, f"Approve spec version {version}", date)
        if commit == main:
            return commit
        try:
            gitrepo.update_ref(repo, gitrepo.MAIN, commit, main)
        except gitrepo.GitError:
            continue  # main moved (a merge landed); commit again on top of it
        return commit
    raise gitrepo.GitError("main kept moving while committing the approved spec")
