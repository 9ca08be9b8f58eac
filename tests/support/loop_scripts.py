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
    return "; ".join(
        [
            "echo uid=$(id -u) ppid=$PPID",
            "cat /proc/$PPID/environ >/dev/null 2>&1"
            " && echo ENVIRON-READABLE || echo ENVIRON-DENIED",
            "cat /proc/1/environ >/dev/null 2>&1 && echo INIT-READABLE || echo INIT-DENIED",
            "echo api_keys=$(env | grep -ci api_key)",
            "test -e /var/run/secrets/kubernetes.io/serviceaccount/token"
            " && echo TOKEN-PRESENT || echo TOKEN-ABSENT",
            f"cat {shlex.quote(kubeconfig)} >/dev/null 2>&1"
            " && echo KUBECONFIG-READABLE || echo KUBECONFIG-DENIED",
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
                "api_keys=0",
                "TOKEN-ABSENT",
                "KUBECONFIG-DENIED",
            ],
            absent=[
                "ENVIRON-READABLE",
                "INIT-READABLE",
                "KUBECONFIG-READABLE",
                "TOKEN-PRESENT",
                key,
            ],
        )
        assert "uid=0 " not in found.content, found.content[:300]
        return Reply([Call("write_file", item) for item in template_files(view.inputs)])

    def finish(view: SessionView) -> Reply:
        bad = [r.content for r in view.results if r.is_error]
        assert view.results and not bad, bad
        return Reply([Call("finish", {"summary": "probed, then wrote the task's files"})])

    return [probe, write, finish]
