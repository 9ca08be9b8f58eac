"""A Project's way from description to approved spec, as one idempotent step.

:func:`reconcile` reads spec and status and returns the next status with the fields
it set: questions, spec {version, documents, source, revision, answersDigest,
approvedAt, approvedVersion, commitSha}, repoPath, phase, message, conditions,
observedGeneration. Called again with the status it produced, it changes nothing.

:func:`planning_needed` says whether a step would ask the planner (which may
take minutes); :class:`PlannerCalls` remembers the planner's answers (and
failures) by their inputs, so the same step recomputed on a fresher status
(after a write conflict) does not ask again. planning.py uses both to keep
planner calls off the kopf handler.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prazium_kit import paths
from prazium_kit.models import (
    Answer,
    ProjectSpec,
    ProjectStatus,
    Question,
    SpecState,
    status_patch,
)
from prazium_kit.timefmt import utc_now
from prazium_kit.types import Obj
from prazium_operator import gitrepo
from prazium_operator.agents import SPEC_DOCUMENTS, AgentError, get_planner
from prazium_operator.agents.registry import agent_options
from prazium_operator.status import project as project_status

SPEC_DIR = "docs/spec"
# The status fields a step always writes (questions and spec only when they change).
STEP_FIELDS = ("repo_path", "message", "phase", "conditions", "observed_generation")


def answers_digest(answers: list[Answer]) -> str:
    # Of the values, in the form answers were stored before they were typed
    # ({questionId, answer}): the same answers digest the same whichever field holds
    # them, so documents written before are not taken for stale.
    dumped = [{"questionId": a.question_id, "answer": a.value} for a in answers]
    canonical = json.dumps(
        sorted(dumped, key=lambda a: str(a.get("questionId"))),
        sort_keys=True,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class PlannerCalls:
    """The planner's answers by their inputs: each call asked at most once per instance."""

    def __init__(self) -> None:
        self._outcomes: dict[str, tuple[bool, Any]] = {}

    def call(self, what: Callable[..., Any], *args: Any) -> Any:
        key = json.dumps(
            [getattr(what, "__qualname__", repr(what)), args], sort_keys=True, default=str
        )
        if key not in self._outcomes:
            try:
                self._outcomes[key] = (True, what(*args))
            except AgentError as exc:
                self._outcomes[key] = (False, exc)
        ok, value = self._outcomes[key]
        if not ok:
            raise value
        return value


def planning_needed(spec: ProjectSpec, status: ProjectStatus) -> bool:
    """Whether reconcile() would call the planner (clarify or write_spec) for this state."""
    if spec.archived or spec.spec_documents:
        return False
    if not status.questions:
        return True
    return spec.answers is not None and _stale(spec, status.spec or SpecState(), spec.answers)


def _revision(spec: ProjectSpec) -> int:
    return spec.regenerate.revision if spec.regenerate else 0


def _stale(spec: ProjectSpec, current: SpecState, answers: list[Answer]) -> bool:
    """Whether the generated documents do not match these answers and revision."""
    return (
        not current.version
        or current.source != "generated"
        or current.answers_digest != answers_digest(answers)
        or _revision(spec) > (current.revision or 0)
    )


@dataclass
class Step:
    """The status a step arrived at and the fields it set (the rest is left alone)."""

    status: ProjectStatus
    fields: tuple[str, ...]

    def patch(self) -> Obj:
        return status_patch(self.status, *self.fields)


def reconcile(
    data_dir: Path,
    namespace: str,
    name: str,
    spec: ProjectSpec,
    status: ProjectStatus,
    generation: int | None,
    calls: PlannerCalls | None = None,
) -> Step:
    repo = paths.repo_path(data_dir, namespace, name)
    gitrepo.init_bare(repo)
    out = status.model_copy(deep=True)
    out.repo_path, out.message = paths.volume_relative(data_dir, repo), ""
    fields = list(STEP_FIELDS)
    blocked = reason = ""
    if not spec.archived:
        try:
            new_spec, questions = _next_spec(spec, status, calls or PlannerCalls())
        except (UnknownAgent, AgentError) as exc:
            # Retrying blindly cannot help: say why and stall until the spec (or the
            # agent's endpoint and credentials) change; any edit of the Project retries.
            blocked = out.message = str(exc)
            reason = (
                project_status.UNKNOWN_AGENT
                if isinstance(exc, UnknownAgent)
                else project_status.AGENT_FAILED
            )
        else:
            if questions is not None:
                out.questions = questions
                fields.append("questions")
            if new_spec is not None:
                new_spec = _apply_approval(repo, spec, new_spec, out)
                if new_spec != status.spec:
                    out.spec = new_spec
                    fields.append("spec")
    out.phase = project_status.project_phase(out, spec.archived)
    out.conditions = (
        project_status.stalled_conditions(status, generation, reason, blocked)
        if blocked
        else project_status.phase_conditions(out, generation)
    )
    out.observed_generation = generation
    return Step(out, tuple(fields))


class UnknownAgent(ValueError):
    """spec.agent names a planner this installation does not have."""


def _next_spec(
    spec: ProjectSpec, status: ProjectStatus, calls: PlannerCalls
) -> tuple[SpecState | None, list[Question] | None]:
    """The spec state this generation calls for (None: none yet) and new questions, if any."""
    current = status.spec or SpecState()
    version = current.version or 0
    revision = _revision(spec)
    if spec.spec_documents:
        provided = spec.spec_documents.model_dump(by_alias=True)
        documents = {key: provided[key] for key in SPEC_DOCUMENTS}
        if current.source == "provided" and current.documents == documents:
            return current, None
        return _fresh(version, documents, "provided", revision, ""), None

    try:
        planner = get_planner(
            spec.chosen_agent.planner, **agent_options(spec.chosen_agent.as_spec())
        )
    except ValueError as exc:
        raise UnknownAgent(f"spec.agent.planner: {exc}") from exc
    questions = None
    if not status.questions:
        asked = calls.call(planner.clarify, spec.display_name, spec.description)
        questions = [Question.model_validate(q) for q in asked]
    answers = spec.answers
    if answers is None:
        return status.spec, questions
    if not _stale(spec, current, answers):
        return current, questions
    feedback = (
        spec.regenerate.feedback if spec.regenerate and revision > (current.revision or 0) else None
    )
    answer_map = {a.question_id: a.value for a in answers}
    documents = calls.call(
        planner.write_spec, spec.display_name, spec.description, answer_map, feedback, revision
    )
    return (
        _fresh(version, dict(documents), "generated", revision, answers_digest(answers)),
        questions,
    )


def _fresh(
    version: int, documents: dict[str, str], source: str, revision: int, digest: str
) -> SpecState:
    # A new version clears the approval: it was given to the previous one (the status
    # patch writes the cleared fields as nulls).
    return SpecState.model_validate(
        {
            "version": version + 1,
            "documents": documents,
            "source": source,
            "revision": revision,
            "answersDigest": digest,
        }
    )


def _apply_approval(
    repo: Path, spec: ProjectSpec, state: SpecState, out: ProjectStatus
) -> SpecState:
    wanted = spec.approval.spec_version if spec.approval else None
    version = state.version
    if wanted is None or state.approved_version == version:
        return state
    if wanted != version:
        out.message = (
            f"spec.approval.specVersion is {wanted} but the current spec version"
            f" is {version}; approve version {version} to build it"
        )
        return state
    assert version is not None and state.documents is not None
    approved_at = utc_now()
    commit = commit_spec(repo, state.documents, version, approved_at)
    return state.model_copy(
        update={"approved_version": version, "approved_at": approved_at, "commit_sha": commit}
    )


def committed_documents(repo: Path, commit: str) -> dict[str, str]:
    """The spec documents commit_spec committed, read back from the commit."""
    return {key: gitrepo.show_file(repo, commit, f"{SPEC_DIR}/{key}") for key in SPEC_DOCUMENTS}


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
