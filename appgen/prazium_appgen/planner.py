"""The template planner: deterministic questions, spec documents and plan."""

from __future__ import annotations

from prazium_appgen.decompose import decompose_documents
from prazium_appgen.questions import build_questions
from prazium_appgen.spec import decide_spec, render_documents
from prazium_kit.agentapi import Answers, PlanDocument, Question, SpecDocuments


class TemplatePlanner:
    def clarify(self, display_name: str, description: str) -> list[Question]:
        return [question.as_dict() for question in build_questions(display_name, description)]

    def write_spec(
        self,
        display_name: str,
        description: str,
        answers: Answers,
        feedback: str | None,
        revision: int,
    ) -> SpecDocuments:
        decisions = decide_spec(display_name, description, answers, feedback, revision)
        return render_documents(decisions)

    def decompose(self, display_name: str, documents: SpecDocuments) -> PlanDocument:
        # display_name is not needed: the app's title is read from SPEC.md, like
        # everything else, so hand-written documents stay authoritative.
        return decompose_documents(documents)
