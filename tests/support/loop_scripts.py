"""Scripted coding-agent sessions for builds of the notes-gitops example (the template
planner's plan: task-001 app shell, task-002 data model, ...), shared by the local
and the node tests of the loop.

* fix_session: reads a spec document, writes the app shell with a bug, runs the
  health test, receives its REAL failing assertion, fixes the bug with edit_file, runs
  the test again, sees it pass, finishes.
* probe_session: the model's command looks for the key and the platform's secrets
  (the worker's environment through /proc, its own environment, a ServiceAccount
  token, the operator's kubeconfig), then writes the task's files and finishes. The
  stand-in refuses any request that carries the key, and the step checks that every
  probe came back denied.
"""

from __future__ import annotations

import shlex

from tests.support.agent_sessions import Call, Reply, SessionView, Step, template_files

HEALTH = "app/resources/health.py"
BROKEN_HEALTH = '"status": "starting"'
HEALTHY = '"status": "ok"'
HEALTH_TEST = "python -m unittest -v tests.test_health"
HEALTH_FAILURE = "AssertionError: 'starting' != 'ok'"


def fix_session() -> list[Step]:
    def read(view: SessionView) -> Reply:
        return Reply([Call("read_file", {"path": "docs/spec/ROUTES.md"})])

    def write(view: SessionView) -> Reply:
        view.expect("read_file", contains="| GET | /health | liveness |", error=False)
        files = template_files(view.inputs)
        for item in files:
            if item["path"] == HEALTH:
                assert HEALTHY in item["content"], "the template's health route changed"
                item["content"] = item["content"].replace(HEALTHY, BROKEN_HEALTH)
        return Reply([Call("write_file", item) for item in files])

    def run(view: SessionView) -> Reply:
        bad = [r.content for r in view.results if r.is_error]
        assert view.results and not bad, bad
        return Reply([Call("run", {"command": HEALTH_TEST})])

    def fix(view: SessionView) -> Reply:
        view.expect("run", contains=[HEALTH_FAILURE, "FAILED (failures=1)"])
        return Reply(
            [
                Call(
                    "edit_file",
                    {"path": HEALTH, "old_string": BROKEN_HEALTH, "new_string": HEALTHY},
                )
            ]
        )

    def rerun(view: SessionView) -> Reply:
        view.expect("edit_file", contains=f"edited {HEALTH}", error=False)
        return Reply([Call("run", {"command": HEALTH_TEST})])

    def finish(view: SessionView) -> Reply:
        view.expect("run", contains=["OK", "[exit 0 in"], absent=[HEALTH_FAILURE])
        return Reply([Call("finish", {"summary": "health reports ok; its tests pass"})])

    return [read, write, run, fix, rerun, finish]


def probe_command(kubeconfig: str) -> str:
    """Each probe prints NAME-READABLE or NAME-DENIED (spelled so that the command
    itself, which the run tool's result repeats, holds neither word)."""

    def probe(name: str, test: str) -> str:
        return f"{test} >/dev/null 2>&1 && r=READABLE || r=DENIED; echo {name}-$r"

    return "; ".join(
        [
            "echo uid=$(id -u) ppid=$PPID",
            probe("ENVIRON", "cat /proc/$PPID/environ"),
            probe("INIT", "cat /proc/1/environ"),
            probe("TOKEN", "cat /var/run/secrets/kubernetes.io/serviceaccount/token"),
            probe("KUBECONFIG", f"cat {shlex.quote(kubeconfig)}"),
            "echo api_keys=$(env | grep -ci api_key)",
            "env",
        ]
    )


def probe_session(kubeconfig: str, key: str) -> list[Step]:
    def probe(view: SessionView) -> Reply:
        return Reply([Call("run", {"command": probe_command(kubeconfig)})])

    def write(view: SessionView) -> Reply:
        found = view.expect(
            "run",
            contains=[
                "ENVIRON-DENIED",
                "INIT-DENIED",
                "TOKEN-DENIED",
                "KUBECONFIG-DENIED",
                "api_keys=0",
            ],
            absent=["-READABLE", key],
        )
        assert "uid=0 " not in found.content, found.content[:300]
        return Reply([Call("write_file", item) for item in template_files(view.inputs)])

    def finish(view: SessionView) -> Reply:
        bad = [r.content for r in view.results if r.is_error]
        assert view.results and not bad, bad
        return Reply([Call("finish", {"summary": "probed, then wrote the task's files"})])

    return [probe, write, finish]
