"""The `prazium` console script against the real API, operator, PostgreSQL and git:
every command, run as a user runs it (a subprocess of the installed script), in
text and in --output json, with the contract's errors as exit codes.

One project is built with the template agent through the CLI itself (login,
projects create, answer, approve, run start --watch) and shared by the module's
tests; the admin key routes and the key cache's revocation time are tested here
too (the CLI's `keys` commands and `prazium-admin`)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from kubernetes import client

from prazium_api.auth.keys import create_key
from tests.support.services import (
    ServiceProcess,
    Stack,
    kill_workers,
    start_api,
    start_operator,
    wait_for,
)

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
PRAZIUM = BIN / "prazium"
KEY_CACHE_SECONDS = 5  # the API's default PRAZIUM_KEY_CACHE_SECONDS


@dataclass
class Cli:
    """The installed console script with one config file (URL + key) and no
    credentials from the environment."""

    api: str
    key: str
    admin_key: str
    namespace: str
    config: Path
    env: dict[str, str]
    database_url: str

    def run(
        self, *args: str, input: str | None = None, config: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        return subprocess.run(
            [str(PRAZIUM), *args, "--config", str(config or self.config)],
            **stdin,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=300,
            check=False,
        )

    def json(self, *args: str, code: int = 0, **kwargs: Any) -> Any:
        """Run with -o json; the exit code must be `code`; stdout is one JSON document."""
        done = self.run(*args, "-o", "json", **kwargs)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        return json.loads(done.stdout)

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        done = self.run(*args, **kwargs)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done


@pytest.fixture(scope="module")
def cli(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """An operator and an API for this module, a tenant with a pro key and an admin
    key, and the CLI logged in (config file) with the pro key."""
    namespace = f"t-cli-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api()
    tenant = client.V1ObjectMeta(name=namespace, labels={"prazium.io/tenant": "true"})
    core.create_namespace(client.V1Namespace(metadata=tenant))
    tmp = tmp_path_factory.mktemp("cli")
    data_dir = tmp / "data"
    data_dir.mkdir()
    operator = start_operator(stack, data_dir, [namespace], tmp / "logs")
    api_proc, base = start_api(stack, data_dir, tmp / "logs")
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        key = create_key(conn, namespace, "enterprise")[1]
        admin_key = create_key(conn, namespace, "enterprise", True)[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAZIUM_")}
    env.update(HOME=str(tmp / "home"), XDG_CONFIG_HOME=str(tmp / "xdg"), NO_COLOR="1")
    env.update(COLUMNS="160", GIT_TERMINAL_PROMPT="0")
    # The services' settings come from the test stack, not from here.
    env.update(
        PRAZIUM_DATABASE_URL=stack.database_url,
        PRAZIUM_KUBECONFIG=stack.kubeconfig,
    )
    cli = Cli(base, key, admin_key, namespace, tmp / "config.json", env, stack.database_url)
    wait_for(lambda: _heartbeat(stack.database_url, operator), 30, "operator heartbeat", operator)
    cli.ok("login", "--api-url", base, "--api-key", key)
    yield cli
    api_proc.stop()
    operator.stop()
    kill_workers(data_dir)
    core.delete_namespace(namespace, propagation_policy="Background")


def _heartbeat(dsn: str, operator: ServiceProcess) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{operator.pid}",)
        ).fetchone()
    return row is not None


def _reply(question: dict[str, Any]) -> str:
    """What a person types at the prompt for a question."""
    return {"boolean": "yes", "single_choice": "1", "multi_choice": "1"}.get(
        question["type"], "Keep it simple."
    )


@pytest.fixture(scope="module")
def built(cli: Cli) -> dict[str, Any]:
    """A project built through the CLI: login, create, answer, approve, run start --watch."""
    login = cli.json("login", "--api-url", cli.api + "/v1/", "--api-key", cli.key)
    assert login["data"]["tenant"] == cli.namespace
    created = cli.json(
        "projects",
        "create",
        "Team Todo",
        "--description",
        "A todo list app for small teams with tags, due dates and search.",
    )["data"]
    project = created["id"]
    assert created["status"] == "draft"
    # The first question by flag, the rest typed at the prompts.
    with httpx.Client(base_url=f"{cli.api}/v1", timeout=120) as http:
        questions = http.post(
            f"/projects/{project}/clarify", headers={"Authorization": f"Bearer {cli.key}"}
        ).json()["data"]["questions"]
    first, rest = questions[0], questions[1:]
    flag = f"{first['id']}={_reply(first)}"
    typed = "".join(_reply(q) + "\n" for q in rest)
    answered = cli.json("answer", project, "--answer", flag, "--interactive", input=typed)
    assert answered["data"]["status"] == "spec_review"
    assert set(answered["data"]["spec"]["documents"]) >= {"SPEC.md", "ACCEPTANCE.md"}
    approved = cli.json("approve", project)["data"]
    assert approved["status"] == "approved" and approved["spec"]["approvedAt"]

    done = cli.run("run", "start", project, "--watch", "-o", "json")
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    started, events, final = lines[0]["data"], lines[1:-1], lines[-1]["data"]
    assert started["status"] == "decomposing" and started["runNumber"] == 1
    types = [line["event"]["eventType"] for line in events]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_COMPLETED", types
    assert "TASK_STARTED" in types and "FILE_CREATED" in types
    assert all(line["event"]["id"].startswith("evt_") for line in events)
    assert final["id"] == started["id"] and final["status"] == "succeeded"
    return {"project": project, "run": final}


def test_login_keeps_the_key_in_a_0600_file_and_refuses_a_bad_key(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "sub" / "config.json"
    done = cli.ok("login", "--api-url", cli.api, "--api-key", cli.key, config=config)
    assert "logged in" in done.stdout and cli.namespace in done.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"apiUrl": cli.api, "apiKey": cli.key}
    assert cli.key not in done.stdout + done.stderr  # the key is never printed
    # The key asked for at the prompt (hidden input) when not given.
    prompted = tmp_path / "prompted.json"
    done = cli.run("login", "--api-url", cli.api, input=cli.key + "\n", config=prompted)
    assert done.returncode == 0, done.stderr
    assert json.loads(prompted.read_text())["apiKey"] == cli.key

    refused = tmp_path / "refused.json"
    error = cli.json(
        "login", "--api-url", cli.api, "--api-key", "pzm_wrong", code=3, config=refused
    )
    assert error["error"]["code"] == "UNAUTHORIZED" and error["error"]["message"]
    assert not refused.exists()  # nothing saved for a refused key
    # Environment variables win over the file; no credentials at all: exit 3.
    listed = cli.json(
        "projects", "list", config=refused, PRAZIUM_API_URL=cli.api, PRAZIUM_API_KEY=cli.key
    )
    assert "data" in listed and "pagination" in listed
    missing = cli.json("projects", "list", code=3, config=refused)
    assert missing["error"]["code"] == "UNAUTHORIZED"
    assert "prazium login" in missing["error"]["message"]
    down = cli.json(
        "projects",
        "list",
        code=8,
        config=refused,
        PRAZIUM_API_URL="http://127.0.0.1:9",
        PRAZIUM_API_KEY=cli.key,
    )
    assert down["error"]["code"] == "UNREACHABLE"


def test_the_built_project_listed_shown_and_watched(cli: Cli, built: dict[str, Any]) -> None:
    project, run = built["project"], built["run"]
    listed = cli.json("projects", "list")
    assert project in [p["id"] for p in listed["data"]]
    assert listed["pagination"]["total"] >= 1
    text = cli.ok("projects", "list").stdout
    assert project in text and "Team Todo" in text and "built" in text

    shown = cli.json("projects", "show", project)["data"]
    assert shown["status"] == "built" and shown["spec"]["approvedAt"]
    assert "Team Todo" in cli.ok("projects", "show", project).stdout

    runs = cli.json("run", "list", project)["data"]
    assert [r["id"] for r in runs] == [run["id"]]
    assert run["id"] in cli.ok("run", "list", project).stdout

    # The text view of a finished run: its graph (every task, by slug), then the outcome.
    watched = cli.run("run", "watch", project, run["id"])
    assert watched.returncode == 0, watched.stderr
    for task in run["tasks"]:
        assert task["slug"] in watched.stdout, (task, watched.stdout)
    assert "succeeded" in watched.stdout and f"run {run['id']}" in watched.stdout
    latest = cli.run("run", "watch", project)  # the latest run by default
    assert latest.returncode == 0 and run["id"] in latest.stdout


def test_files_list_and_cat(cli: Cli, built: dict[str, Any]) -> None:
    project = built["project"]
    root = cli.json("files", "list", project)["data"]
    names = {e["name"] for e in root["entries"]}
    assert {"app", "README.md"} <= names
    assert "app/" in cli.ok("files", "list", project).stdout
    app_dir = cli.json("files", "list", project, "app")["data"]
    assert "__main__.py" in {e["name"] for e in app_dir["entries"]}

    readme = cli.ok("files", "cat", project, "README.md").stdout
    assert "python -m app" in readme
    as_json = cli.json("files", "cat", project, "README.md")["data"]
    assert as_json["content"] == readme and as_json["encoding"] == "utf-8"
    missing = cli.json("files", "cat", project, "no/such/file.txt", code=4)
    assert missing["error"]["code"] == "NOT_FOUND"


def test_export_creates_waits_and_downloads(
    cli: Cli, built: dict[str, Any], tmp_path: Path
) -> None:
    project, run = built["project"], built["run"]
    result = cli.json("export", project, run["id"], "--out", str(tmp_path))["data"]
    archive = Path(result["file"])
    assert archive == tmp_path / "team-todo-run-1.zip" and result["status"] == "completed"
    assert result["bytes"] == archive.stat().st_size > 0
    with zipfile.ZipFile(archive) as zipped:
        assert "team-todo-run-1/app/__main__.py" in zipped.namelist()

    target = tmp_path / "code.tar.gz"
    done = cli.ok("export", project, run["id"], "--format", "tar.gz", "--out", str(target))
    assert str(target) in done.stdout
    with tarfile.open(target) as tar:
        assert "team-todo-run-1/README.md" in tar.getnames()
    pending = cli.json("export", project, "--no-wait")["data"]  # the latest succeeded run
    assert pending["status"] in {"processing", "completed"} and pending["id"].startswith("exp_")
    bad = cli.json("export", project, "run_nope", code=4)
    assert bad["error"]["code"] == "NOT_FOUND"


def _own_config(cli: Cli, tmp_path: Path) -> Path:
    """A config file of the test's own (logged in with the module's key), so a current
    project or a logout stays within the test."""
    config = tmp_path / "own.json"
    cli.ok("login", "--api-url", cli.api, "--api-key", cli.key, config=config)
    return config


def test_full_ids_at_80_columns_and_wide_columns(cli: Cli, built: dict[str, Any]) -> None:
    project, run = built["project"], built["run"]
    tables = {
        ("projects", "list"): [project],
        ("run", "list", project): [run["id"]],
        ("run", "describe", project, run["id"]): [run["id"], run["mergedCommit"]]
        + [t["id"] for t in run["tasks"]]
        + [t["slug"] for t in run["tasks"]],
        ("files", "list", project, "app"): ["__main__.py"],
    }
    for args, ids in tables.items():
        narrow = cli.ok(*args, COLUMNS="80").stdout
        assert "…" not in narrow, narrow
        for full in ids:
            assert full in narrow, (args, full, narrow)
    # The narrow table leaves columns out rather than cutting an id; -o wide adds columns.
    text = cli.ok("run", "list", project, COLUMNS="200").stdout
    wide = cli.ok("run", "list", project, "-o", "wide", COLUMNS="200").stdout
    header, wide_header = text.splitlines()[0].split(), wide.splitlines()[0].split()
    assert {"ID", "STATUS", "DURATION"} <= set(header) and "TRIGGER" not in header
    assert {"TRIGGER", "AT", "COMPLETED"} <= set(wide_header)
    assert run["startedAt"] in wide and run["startedAt"] not in text
    listed = cli.ok("projects", "list", "-o", "wide", COLUMNS="200").stdout
    assert "DESCRIPTION" in listed.splitlines()[0] and run["id"] in listed


def test_yaml_output_parses_as_the_json_does(cli: Cli, built: dict[str, Any]) -> None:
    project, run = built["project"], built["run"]
    for args in (
        ("projects", "list"),
        ("projects", "show", project),
        ("run", "list", project),
        ("run", "describe", project, run["id"]),
        ("files", "list", project),
        ("files", "cat", project, "README.md"),
        ("spec", "show", project),
        ("whoami",),
    ):
        done = cli.run(*args, "-o", "yaml")
        assert done.returncode == 0, (args, done.stderr)
        as_yaml = yaml.safe_load(done.stdout)
        as_json = cli.json(*args)
        if args[:2] == ("projects", "list"):  # times move on: compare the ids
            assert [p["id"] for p in as_yaml["data"]] == [p["id"] for p in as_json["data"]]
            assert as_yaml["pagination"] == as_json["pagination"]
        elif args[0] == "projects":  # updatedAt may move with the operator's writes
            assert as_yaml["data"]["id"] == as_json["data"]["id"] == project
            assert as_yaml["data"]["spec"] == as_json["data"]["spec"]
        else:
            assert as_yaml == as_json, args
    # Multi-line strings are literal blocks: the README reads as it is.
    readme = cli.ok("files", "cat", project, "README.md", "-o", "yaml").stdout
    assert "content: |" in readme
    # Errors: the envelope in YAML, with the same exit code.
    missing = cli.run("projects", "show", "proj_nope", "-o", "yaml")
    assert missing.returncode == 4
    assert yaml.safe_load(missing.stdout)["error"]["code"] == "NOT_FOUND"
    # A stream: one YAML document per event, then the run.
    watched = cli.run("run", "watch", project, run["id"], "-o", "yaml")
    assert watched.returncode == 0, watched.stderr
    documents = list(yaml.safe_load_all(watched.stdout))
    assert documents[0]["event"]["eventType"] == "RUN_STARTED"
    assert documents[-1]["data"]["id"] == run["id"]
    assert documents[-1]["data"]["status"] == "succeeded"
    # An output format that does not exist: Typer's usage error.
    assert cli.run("projects", "list", "-o", "xml").returncode == 2


def test_tasks_by_name_and_the_latest_run_by_default(cli: Cli, built: dict[str, Any]) -> None:
    """Runs here: only the built one (the retry test runs later), so it is the latest."""
    project, run = built["project"], built["run"]
    runs = cli.json("run", "list", project)["data"]
    assert [r["id"] for r in runs] == [run["id"]]
    # Every way `run watch` names a task (its id in the events, its slug in the graph)
    # and its number give the same log as the task's id.
    watched = cli.ok("run", "watch", project, run["id"]).stdout
    first = run["tasks"][0]
    assert first["slug"] in watched
    by_id = cli.ok("run", "logs", project, run["id"], first["id"]).stdout
    assert by_id.strip()
    number = str(int(first["id"].removeprefix("task_")))
    for name in (
        first["slug"],
        first["slug"].upper(),
        number,
        first["id"].replace("_", "-"),
        first["id"].removeprefix("task_"),
    ):
        assert cli.ok("run", "logs", project, run["id"], name).stdout == by_id, name
    # The run left out: the latest, for logs as for watch, describe, export.
    assert cli.ok("run", "logs", project, first["slug"]).stdout == by_id
    tail = cli.json("run", "logs", project, first["slug"], "--tail", "1")["data"]
    assert tail["lines"] == by_id.splitlines()[-1:]
    verification = cli.ok("run", "logs", project, "--verification").stdout
    assert verification == cli.ok("run", "logs", project, run["id"], "--verification").stdout
    assert cli.json("run", "describe", project)["data"]["id"] == run["id"]
    # Names that fit no task: NOT_FOUND, with the run's tasks named.
    unknown = cli.json("run", "logs", project, "no-such-task", code=4)
    assert unknown["error"]["code"] == "NOT_FOUND"
    assert first["id"] in unknown["error"]["message"]
    assert first["slug"] in unknown["error"]["message"]
    assert cli.json("run", "logs", project, "99", code=4)["error"]["code"] == "NOT_FOUND"
    both = cli.json("run", "logs", project, first["slug"], "--verification", code=5)
    assert both["error"]["code"] == "VALIDATION_ERROR"
    assert cli.run("run", "logs", project, run["id"], "a", "b").returncode == 2


def test_the_current_project_is_every_commands_default(
    cli: Cli, built: dict[str, Any], tmp_path: Path
) -> None:
    project, run = built["project"], built["run"]
    config = _own_config(cli, tmp_path)
    # None chosen: the commands say how to choose one (exit 5), nothing is guessed.
    none = cli.json("spec", "show", code=5, config=config)
    assert none["error"]["code"] == "VALIDATION_ERROR"
    assert "prazium projects use" in none["error"]["message"]
    assert cli.json("projects", "use", config=config)["data"]["project"] is None
    # An unknown project is refused and not kept.
    assert cli.json("projects", "use", "proj_nope", code=4, config=config)["error"]["code"] == (
        "NOT_FOUND"
    )
    assert "project" not in json.loads(config.read_text())
    chosen = cli.json("projects", "use", project, config=config)["data"]
    assert chosen["project"] == project
    assert json.loads(config.read_text())["project"] == project
    assert project in cli.ok("projects", "use", config=config).stdout
    # Now PROJECT may be left out, whatever else is given.
    assert cli.json("projects", "show", config=config)["data"]["id"] == project
    assert cli.json("run", "list", config=config)["data"][0]["id"] == run["id"]
    assert cli.json("run", "describe", run["id"], config=config)["data"]["id"] == run["id"]
    task = run["tasks"][0]
    by_id = cli.ok("run", "logs", project, run["id"], task["id"]).stdout
    assert cli.ok("run", "logs", task["slug"], config=config).stdout == by_id
    assert (
        cli.ok("files", "cat", "README.md", config=config).stdout
        == cli.ok("files", "cat", project, "README.md").stdout
    )
    spec = cli.json("spec", "show", config=config)["data"]
    assert spec["projectId"] == project
    # PRAZIUM_PROJECT wins over the file; --clear forgets the file's.
    other = cli.json("spec", "show", code=4, config=config, PRAZIUM_PROJECT="proj_nope")
    assert other["error"]["code"] == "NOT_FOUND"
    assert cli.json("projects", "use", "--clear", config=config)["data"]["project"] is None
    assert "project" not in json.loads(config.read_text())
    cli.json("run", "list", code=5, config=config)
    # A login with another key forgets the current project (another tenant's, maybe).
    cli.json("projects", "use", project, config=config)
    cli.ok("login", "--api-url", cli.api, "--api-key", cli.key, config=config)
    assert json.loads(config.read_text())["project"] == project  # the same key: kept
    cli.ok("login", "--api-url", cli.api, "--api-key", cli.admin_key, config=config)
    assert "project" not in json.loads(config.read_text())


def test_spec_show_renders_the_documents(cli: Cli, built: dict[str, Any]) -> None:
    project = built["project"]
    spec = cli.json("spec", "show", project)["data"]
    documents = spec["documents"]
    assert list(documents)[:1] == ["SPEC.md"] and {"ACCEPTANCE.md", "DATA.md"} <= set(documents)
    shown = cli.json("projects", "show", project)["data"]["spec"]
    assert documents == shown["documents"] and spec["version"] == shown["version"]
    # Rendered: headings without their "#", each document under its name.
    rendered = cli.ok("spec", "show", project, COLUMNS="100").stdout
    heading = next(line for line in documents["SPEC.md"].splitlines() if line.startswith("# "))
    assert heading[2:].strip() in rendered and heading not in rendered.splitlines()
    for name in documents:
        assert name in rendered
    assert f"spec v{spec['version']}" in rendered
    # Raw: one document exactly as it is; all of them each after its name.
    raw = cli.ok("spec", "show", project, "--raw", "--doc", "SPEC.md").stdout
    assert raw == documents["SPEC.md"]
    assert (
        cli.ok("spec", "show", project, "--raw", "-d", "acceptance").stdout
        == (documents["ACCEPTANCE.md"])
    )
    every = cli.ok("spec", "show", project, "--raw").stdout
    assert every.startswith("==> SPEC.md <==\n" + documents["SPEC.md"])
    assert all(f"==> {name} <==" in every for name in documents)
    only = cli.json("spec", "show", project, "--doc", "data")["data"]["documents"]
    assert list(only) == ["DATA.md"]
    missing = cli.json("spec", "show", project, "--doc", "NOPE.md", code=4)
    assert "SPEC.md" in missing["error"]["message"]
    # A project without a spec yet: NOT_FOUND, saying what to do.
    draft = cli.json(
        "projects", "create", "Draft", "--description", "A draft with no spec written yet."
    )["data"]
    no_spec = cli.json("spec", "show", draft["id"], code=4)
    assert f"prazium answer {draft['id']}" in no_spec["error"]["message"]
    # Regenerating needs a spec: the API's CONFLICT, exit 6.
    refused = cli.run("regenerate", draft["id"], "-m", "More fields")
    assert refused.returncode == 6 and "CONFLICT" in refused.stderr
    cli.json("projects", "archive", draft["id"])


def test_run_describe(cli: Cli, built: dict[str, Any]) -> None:
    project, run = built["project"], built["run"]
    described = cli.json("run", "describe", project, run["id"])["data"]
    assert described["id"] == run["id"] and described["status"] == "succeeded"
    assert described["mergedCommit"] == run["mergedCommit"]
    assert described["verificationResult"] == run["verificationResult"]
    assert "specSnapshot" not in described  # the spec is `prazium spec show`'s
    assert 0 < described["durationSeconds"] <= 600
    phases = [p["phase"] for p in described["phases"]]
    assert phases == ["decomposing", "executing", "merging", "verifying"]
    assert all(
        p["durationSeconds"] is not None and p["durationSeconds"] >= 0 for p in described["phases"]
    )
    # The phases follow one another from the run's first event and fill the run's time,
    # both measured from the run's events to the millisecond.
    offsets = [p["startOffsetSeconds"] for p in described["phases"]]
    assert offsets[0] == 0 and offsets == sorted(offsets)
    total = sum(p["durationSeconds"] for p in described["phases"])
    assert total == pytest.approx(described["durationSeconds"], abs=0.01)
    assert [t["id"] for t in described["tasks"]] == [t["id"] for t in run["tasks"]]
    for task in described["tasks"]:
        assert task["status"] == "succeeded" and task["attempts"] >= 1
        assert 0 <= task["durationSeconds"] <= described["durationSeconds"]
        assert offsets[1] <= task["startOffsetSeconds"] <= offsets[2]  # while executing
        assert task["result"]["commitSha"]
    text = cli.ok("run", "describe", project, run["id"], COLUMNS="80").stdout
    for expected in (run["id"], project, "succeeded", run["mergedCommit"], "verifying"):
        assert expected in text, expected
    assert run["verificationResult"]["summary"] in text
    wide = cli.ok("run", "describe", project, run["id"], "-o", "wide", COLUMNS="200").stdout
    for task in described["tasks"]:
        assert task["result"]["commitSha"] in wide
        if task["result"]["commitSha"] != run["mergedCommit"]:  # that one is shown anyway
            assert task["result"]["commitSha"] not in text
    assert cli.json("run", "describe", project, "run_nope", code=4)["error"]["code"] == (
        "NOT_FOUND"
    )


def test_run_retry_cancel_and_errors(cli: Cli, built: dict[str, Any]) -> None:
    project, run = built["project"], built["run"]
    retried = cli.json("run", "retry", project, run["id"])["data"]
    assert retried["runNumber"] == 2 and retried["trigger"] == "retry"
    done = cli.run("run", "cancel", project, retried["id"], "-o", "json")
    body = json.loads(done.stdout)
    if done.returncode == 0:
        assert body["data"] == {"id": retried["id"], "status": "cancelled"}
    else:  # it finished first: a finished run cannot be cancelled
        assert done.returncode == 6 and body["error"]["code"] == "CONFLICT", body
    # Cancelling the succeeded run: the contract's 409, exit 6, said on stderr.
    refused = cli.run("run", "cancel", project, run["id"])
    assert refused.returncode == 6 and "CONFLICT" in refused.stderr and not refused.stdout
    # The second run ends (cancelled or succeeded); watching it exits 0 only for succeeded.
    watched = cli.run("run", "watch", project, retried["id"], "-o", "json")
    final = json.loads(watched.stdout.splitlines()[-1])["data"]
    assert final["status"] in {"cancelled", "succeeded"}
    assert watched.returncode == (0 if final["status"] == "succeeded" else 1)
    unknown = cli.json("run", "watch", project, "run_nope", code=4)
    assert unknown["error"]["code"] == "NOT_FOUND"
    started = cli.json("run", "start", project)["data"]
    assert started["runNumber"] == 3
    cli.run("run", "cancel", project, started["id"])
    cli.run("run", "watch", project, started["id"])  # to its end, so the project is idle


def test_run_logs(cli: Cli, built: dict[str, Any]) -> None:
    with httpx.Client(base_url=cli.api, timeout=30) as http:
        paths = http.get("/v1/openapi.json").json()["paths"]
    assert "/v1/projects/{projectId}/runs/{runId}/tasks/{taskId}/logs" in paths
    project, run = built["project"], built["run"]
    task = run["tasks"][0]["id"]
    text = cli.ok("run", "logs", project, run["id"], task).stdout
    assert text.strip()
    as_json = cli.json("run", "logs", project, run["id"], task, "--tail", "2")["data"]
    assert as_json["attempt"] >= 1 and len(as_json["lines"]) <= 2
    followed = cli.ok("run", "logs", project, run["id"], task, "--follow").stdout
    assert followed.strip()
    verification = cli.ok("run", "logs", project, run["id"], "--verification").stdout
    assert verification.strip()
    missing = cli.json("run", "logs", project, run["id"], "task_999", code=4)
    assert missing["error"]["code"] == "NOT_FOUND"


def test_previews_list_of_a_project_without_previews(cli: Cli) -> None:
    project = cli.json(
        "projects", "create", "No Previews", "--description", "A guest book with a list of visits."
    )["data"]["id"]
    empty = cli.json("previews", "list", project)
    assert empty["data"] == [] and empty["pagination"]["total"] == 0
    text = cli.ok("previews", "list", project)
    assert "no previews" in text.stderr and "prazium deploy" in text.stderr
    assert "ID" in text.stdout and "dep_" not in text.stdout
    assert yaml.safe_load(cli.ok("previews", "list", project, "-o", "yaml").stdout)["data"] == []
    missing = cli.json("previews", "list", "proj_nope", code=4)
    assert missing["error"]["code"] == "NOT_FOUND"
    cli.json("projects", "archive", project)


def test_deploy_and_previews(cli: Cli, built: dict[str, Any]) -> None:
    """No node here: a preview stays `deploying` (its Pod never runs), so --wait ends
    by its timeout, or when the preview is stopped under it."""
    project = built["project"]
    succeeded = cli.json("run", "list", project, "--status", "succeeded")["data"]
    latest = max(succeeded, key=lambda r: r["runNumber"])
    deployed = cli.json("deploy", project)["data"]  # the latest succeeded run by default
    dep = deployed["id"]
    assert dep.startswith("dep_") and deployed["status"] == "deploying"
    assert deployed["runId"] == latest["id"] and deployed["provider"] == "kubernetes"
    assert deployed["url"] is None and deployed["createdAt"]
    text = cli.ok("deploy", project, "--run", built["run"]["id"], COLUMNS="80").stdout
    assert "deploying" in text and built["run"]["id"] in text
    assert f"prazium previews show {project} dep_" in text
    shown = yaml.safe_load(cli.ok("previews", "show", project, dep, "-o", "yaml").stdout)
    assert shown["data"] == {**deployed, "status": "deploying"}
    assert dep in cli.ok("previews", "show", project, dep).stdout
    # previews list: newest first, whole ids, the time left before it expires.
    listed = cli.json("previews", "list", project)
    found = {d["id"]: d for d in listed["data"]}
    assert found[dep] == shown["data"] and listed["pagination"]["total"] == len(found)
    narrow = cli.ok("previews", "list", COLUMNS="80", PRAZIUM_PROJECT=project).stdout
    assert dep in narrow and "deploying" in narrow
    text = cli.ok("previews", "list", project, COLUMNS="200").stdout
    row = rf"{dep}\s+deploying\s+-\s+{latest['id']}\s+\d+[smhd]\s+2[34]h\b"
    assert re.search(row, text), text  # no URL before it is live; expires in 24 h
    wide = cli.ok("previews", "list", project, "-o", "wide", COLUMNS="250").stdout
    assert "EXPIRES AT" in wide and deployed["expiresAt"] in wide and "kubernetes" in wide
    of_run = yaml.safe_load(cli.ok("previews", "list", project, latest["id"], "-o", "yaml").stdout)
    assert dep in {d["id"] for d in of_run["data"]}
    assert {d["runId"] for d in of_run["data"]} == {latest["id"]}
    assert cli.json("previews", "list", project, "run_nope", code=4)["error"]["code"] == (
        "NOT_FOUND"
    )
    sleeping = cli.json("previews", "list", project, "--status", "sleeping", code=5)
    assert sleeping["error"]["code"] == "VALIDATION_ERROR"
    # --wait: a preview that never turns live ends in TIMEOUT (exit 1)...
    timed = cli.json("previews", "show", project, dep, "--wait", "--timeout", "2", code=1)
    assert timed["error"]["code"] == "TIMEOUT" and dep in timed["error"]["message"]
    waited = cli.json("deploy", project, "--wait", "--timeout", "1", code=1)
    assert waited["error"]["details"]["deployment"]["status"] == "deploying"
    # ... or, stopped while waited for, in DEPLOY_FAILED (exit 1).
    waiting = subprocess.Popen(
        [
            str(PRAZIUM),
            "previews",
            "show",
            project,
            dep,
            "--wait",
            "--timeout",
            "120",
            "-o",
            "json",
            "--config",
            str(cli.config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )
    time.sleep(1.5)
    stopped = cli.json("previews", "stop", project, dep)["data"]
    assert stopped == {"id": dep, "status": "stopped"}
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 1, (out, err)
    failed = json.loads(out)["error"]
    assert failed["code"] == "DEPLOY_FAILED" and failed["details"]["deployment"]["status"] == (
        "stopped"
    )
    assert cli.json("previews", "show", project, dep)["data"]["status"] == "stopped"
    stopped_list = cli.json("previews", "list", project, "--status", "stopped")["data"]
    assert dep in {d["id"] for d in stopped_list}
    assert all(d["status"] == "stopped" and d["stoppedAt"] for d in stopped_list)
    assert re.search(rf"{dep}\s+stopped\s", cli.ok("previews", "list", project).stdout)
    assert "stopped" in cli.ok("previews", "stop", project, dep).stdout  # again: the same
    # Errors: the API's codes and exit codes.
    assert cli.json("previews", "show", project, "dep_nope", code=4)["error"]["code"] == (
        "NOT_FOUND"
    )
    assert cli.json("deploy", project, "--run", "run_nope", code=4)["error"]["code"] == (
        "NOT_FOUND"
    )
    railway = cli.json("deploy", project, "--provider", "railway", code=5)["error"]
    assert railway["code"] == "VALIDATION_ERROR" and "kubernetes" in railway["message"]
    no_id = cli.json("previews", "show", project, code=5)["error"]
    assert "dep_" in no_id["message"]
    second = re.search(r"dep_[0-9a-f]+", text)
    assert second is not None, text
    for other in (second.group(0), waited["error"]["details"]["deployment"]["id"]):
        cli.json("previews", "stop", project, other)


def test_version_whoami_and_logout(cli: Cli, tmp_path: Path) -> None:
    with httpx.Client(base_url=f"{cli.api}/v1", timeout=30) as http:
        health = http.get("/health").json()
        me = http.get("/auth/me", headers={"Authorization": f"Bearer {cli.key}"}).json()["data"]
    client_version = metadata.version("prazium")
    versions = cli.json("version")["data"]
    assert versions["client"]["version"] == client_version
    assert versions["server"] == {
        "apiUrl": cli.api,
        "version": health["version"],
        "status": health["status"],
    }
    text = cli.ok("version").stdout
    assert f"client  {client_version}" in text and f"server  {health['version']}" in text
    assert cli.json("version", "--client")["data"]["server"] is None
    # The server unreachable: the client's version all the same, exit 0, said on stderr.
    down = cli.run("version", PRAZIUM_API_URL="http://127.0.0.1:9")
    assert down.returncode == 0 and client_version in down.stdout
    assert "UNREACHABLE" in down.stderr
    unreachable = cli.json("version", PRAZIUM_API_URL="http://127.0.0.1:9")["data"]
    assert unreachable["server"] is None and unreachable["serverError"]["code"] == "UNREACHABLE"

    who = cli.json("whoami")["data"]
    assert {k: who[k] for k in ("keyId", "tenant", "tier", "admin")} == {
        k: me[k] for k in ("keyId", "tenant", "tier", "admin")
    }
    assert who["apiUrl"] == cli.api and who["configPath"] == str(cli.config)
    assert cli.key not in json.dumps(who)
    said = cli.ok("whoami").stdout
    assert me["keyId"] in said and cli.namespace in said and cli.api in said

    config = _own_config(cli, tmp_path)
    cli.json("projects", "use", cli.json("projects", "list")["data"][0]["id"], config=config)
    out = cli.json("logout", config=config)["data"]
    assert out["forgotKey"] is True and out["apiUrl"] == cli.api
    assert json.loads(config.read_text()) == {"apiUrl": cli.api}  # key and project gone
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    after = cli.json("whoami", code=3, config=config)["error"]
    assert after["code"] == "UNAUTHORIZED" and "prazium login" in after["message"]
    again = cli.run("logout", config=config)
    assert again.returncode == 0 and "not logged in" in again.stdout
    # A key from the environment is not the file's to forget: logout says so.
    env_key = cli.run("logout", config=config, PRAZIUM_API_KEY=cli.key)
    assert env_key.returncode == 0 and "PRAZIUM_API_KEY" in env_key.stderr
    # The next login needs no --api-url: the URL stayed.
    relogin = cli.run("login", "--api-key", cli.key, config=config)
    assert relogin.returncode == 0, relogin.stderr
    assert json.loads(config.read_text()) == {"apiUrl": cli.api, "apiKey": cli.key}


def test_regenerate_writes_a_new_spec_version(cli: Cli, tmp_path: Path) -> None:
    created = cli.json(
        "projects", "create", "Book Club", "--description", "A book club with members and books."
    )["data"]
    project = created["id"]
    with httpx.Client(base_url=f"{cli.api}/v1", timeout=120) as http:
        questions = http.post(
            f"/projects/{project}/clarify", headers={"Authorization": f"Bearer {cli.key}"}
        ).json()["data"]["questions"]
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({q["id"]: _reply(q) for q in questions}))
    answered = cli.ok("answer", project, "--file", str(answers)).stdout
    assert f"prazium spec show {project}" in answered and "projects show" not in answered
    first = cli.json("spec", "show", project)["data"]["version"]

    again = cli.json("regenerate", project, "--feedback", "Members have an email address.")
    assert again["data"]["status"] == "spec_review"
    assert again["data"]["spec"]["version"] == first + 1
    assert cli.json("spec", "show", project)["data"]["version"] == first + 1
    feedback = tmp_path / "feedback.txt"
    feedback.write_text("Books have a required title.\n")
    text = cli.ok("regenerate", project, "--feedback-file", str(feedback)).stdout
    assert f"spec v{first + 2}" in text and f"prazium spec show {project}" in text
    both = cli.json("regenerate", project, "-m", "x", "--feedback-file", str(feedback), code=5)
    assert both["error"]["code"] == "VALIDATION_ERROR"
    assert cli.json("spec", "show", project)["data"]["version"] == first + 2  # nothing sent
    cli.json("projects", "archive", project)


def test_clone(cli: Cli, built: dict[str, Any], tmp_path: Path) -> None:
    project = built["project"]
    shown = cli.json("projects", "show", project)["data"]
    assert shown["cloneUrl"] == f"{cli.api}/v1/projects/{project}/git"
    target = tmp_path / "todo"
    result = cli.json("clone", project, str(target))["data"]
    assert result["cloneUrl"] == shown["cloneUrl"]
    assert (target / "README.md").is_file() and (target / "app" / "__main__.py").is_file()
    assert cli.key not in (target / ".git" / "config").read_text()
    fetched = subprocess.run(
        ["git", "-C", str(target), "fetch", "--tags"],
        capture_output=True,
        text=True,
        env=cli.env,
        check=False,
    )
    assert fetched.returncode == 0, fetched.stderr


def test_archive_and_create_errors(cli: Cli, tmp_path: Path) -> None:
    created = cli.json(
        "projects", "create", "Scratch", "--description", "A scratch pad to be archived soon."
    )["data"]
    archived = cli.json("projects", "archive", created["id"])["data"]
    assert archived == {"id": created["id"], "status": "archived"}
    assert cli.json("projects", "show", created["id"])["data"]["status"] == "archived"
    assert "archived" in cli.ok("projects", "list", "--status", "archived").stdout
    # Bad input: the contract's VALIDATION_ERROR (exit 5), nothing created.
    short = cli.json("projects", "create", "X", "--description", "short", code=5)
    assert short["error"]["code"] == "VALIDATION_ERROR" and short["error"]["details"]["fields"]
    # A description from a file.
    description = tmp_path / "description.txt"
    description.write_text("A recipe book with ingredients and a shopping list.\n")
    from_file = cli.json("projects", "create", "Recipes", "--description-file", str(description))[
        "data"
    ]
    assert from_file["description"].startswith("A recipe book")
    # answer: unknown question ids and a missing answer without a terminal are refused.
    unknown = cli.json("answer", from_file["id"], "--answer", "q99=x", "--no-input", code=5)
    assert "q99" in unknown["error"]["message"]
    unanswered = cli.json("answer", from_file["id"], "--no-input", code=5)
    assert unanswered["error"]["details"]["questionId"]
    # From a file: every question answered.
    with httpx.Client(base_url=f"{cli.api}/v1", timeout=120) as http:
        questions = http.post(
            f"/projects/{from_file['id']}/clarify", headers={"Authorization": f"Bearer {cli.key}"}
        ).json()["data"]["questions"]
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({q["id"]: _reply(q) for q in questions}))
    spec = cli.ok("answer", from_file["id"], "--file", str(answers)).stdout
    assert "spec_review" in spec
    cli.json("projects", "archive", from_file["id"])
    text_error = cli.run("projects", "show", "proj_nope")
    assert text_error.returncode == 4 and "NOT_FOUND" in text_error.stderr


def test_keys_list_shows_a_tenant_its_own_keys_and_an_admin_everyones(
    cli: Cli, tmp_path: Path
) -> None:
    other_tenant = f"t-cli-other-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cli.database_url, autocommit=True) as conn:
        unused_id, _ = create_key(conn, cli.namespace, "free")
        other_id, _ = create_key(conn, other_tenant, "pro")
    me = cli.json("whoami")["data"]
    own = cli.json("keys", "list")
    keys = {k["id"]: k for k in own["data"]["keys"]}
    assert {me["keyId"], unused_id} <= set(keys) and other_id not in keys
    assert all(k["tenant"] == cli.namespace and k["admin"] is False for k in keys.values())
    assert all("key" not in k for k in keys.values())  # never the secret
    assert own["data"]["pagination"]["total"] == len(keys)
    assert keys[me["keyId"]]["lastUsedAt"] and keys[unused_id]["lastUsedAt"] is None
    # Text: whole ids at 80 columns, when each was last used when there is room;
    # -o yaml: the same document.
    narrow = cli.ok("keys", "list", COLUMNS="80").stdout
    assert me["keyId"] in narrow and unused_id in narrow and other_id not in narrow
    text = cli.ok("keys", "list", COLUMNS="160").stdout
    assert re.search(rf"{unused_id}\b.*\bnever\b", text), text
    assert re.search(rf"{me['keyId']}\b.*\b\d+[smhd] ago\b", text), text
    wide = cli.ok("keys", "list", "-o", "wide", COLUMNS="200").stdout
    assert "LAST USED AT" in wide and keys[me["keyId"]]["lastUsedAt"] in wide
    listed = yaml.safe_load(cli.ok("keys", "list", "-o", "yaml").stdout)
    assert {k["id"] for k in listed["data"]["keys"]} == set(keys)
    # Another tenant's keys: FORBIDDEN (exit 3), nothing of theirs printed.
    refused = cli.run("keys", "list", "--tenant", other_tenant, "-o", "json")
    assert refused.returncode == 3 and other_id not in refused.stdout + refused.stderr
    assert json.loads(refused.stdout)["error"]["code"] == "FORBIDDEN"
    # An admin key: every tenant's, or one tenant's with --tenant.
    admin = tmp_path / "admin.json"
    cli.ok("login", "--api-url", cli.api, "--api-key", cli.admin_key, config=admin)
    theirs = cli.json("keys", "list", "--tenant", other_tenant, config=admin)["data"]["keys"]
    assert [k["id"] for k in theirs] == [other_id]
    ours = cli.json("keys", "list", "--tenant", cli.namespace, config=admin)["data"]["keys"]
    assert set(keys) < {k["id"] for k in ours} and any(k["admin"] for k in ours)
    everyone = cli.json("keys", "list", "--limit", "500", config=admin)["data"]
    assert everyone["pagination"]["total"] >= len(ours) + 1


def test_keys_create_list_revoke_and_the_cache_time(cli: Cli, tmp_path: Path) -> None:
    admin = tmp_path / "admin.json"
    cli.ok("login", "--api-url", cli.api, "--api-key", cli.admin_key, config=admin)
    made = cli.json("keys", "create", "--tenant", cli.namespace, "--tier", "pro", config=admin)
    key = made["data"]
    assert key["key"].startswith("pzm_") and key["prefix"] == key["key"][:12]
    assert key["tier"] == "pro" and key["admin"] is False and key["revokedAt"] is None

    listed = cli.json("keys", "list", "--tenant", cli.namespace, config=admin)["data"]
    ids = [k["id"] for k in listed["keys"]]
    assert key["id"] in ids and listed["pagination"]["total"] >= 3
    assert all("key" not in k for k in listed["keys"])  # never the secret
    assert key["id"] in cli.ok("keys", "list", config=admin).stdout
    # Text create prints the key alone on stdout (for scripts: KEY=$(prazium keys create ...)).
    text = cli.ok("keys", "create", "--tenant", cli.namespace, config=admin)
    assert text.stdout.strip().startswith("pzm_") and len(text.stdout.split()) == 1

    # Not an admin: 403 FORBIDDEN, exit 3. Unknown tenant, unknown key: 400 and 404.
    forbidden = cli.json("keys", "create", "--tenant", cli.namespace, code=3)
    assert forbidden["error"]["code"] == "FORBIDDEN"
    gone = cli.json("keys", "create", "--tenant", "t-no-such-ns", config=admin, code=5)
    assert gone["error"]["code"] == "VALIDATION_ERROR"
    assert cli.json("keys", "revoke", "key_nope", config=admin, code=4)["error"]["code"] == (
        "NOT_FOUND"
    )

    def status_with(secret: str) -> int:
        with httpx.Client(base_url=f"{cli.api}/v1", timeout=30) as http:
            return http.get("/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code

    # Revoked through the API: refused at once (that replica drops it from its cache).
    assert status_with(key["key"]) == 200
    revoked = cli.json("keys", "revoke", key["id"], config=admin)["data"]
    assert revoked["id"] == key["id"] and revoked["revokedAt"]
    assert revoked["lastUsedAt"]  # its request above
    assert status_with(key["key"]) == 401
    again = cli.json("keys", "revoke", key["id"], config=admin)["data"]
    assert again["revokedAt"] == revoked["revokedAt"]  # idempotent
    listed = cli.json("keys", "list", "--tenant", cli.namespace, config=admin)["data"]
    assert next(k for k in listed["keys"] if k["id"] == key["id"])["revokedAt"]

    # Revoked behind the API's back (prazium-admin, straight in PostgreSQL), as by
    # another replica: the cached key is refused within the key cache time.
    with psycopg.connect(cli.database_url, autocommit=True) as conn:
        other_id, other = create_key(conn, cli.namespace, "pro")
    assert status_with(other) == 200  # now cached by the API
    admin_cli = subprocess.run(
        [str(BIN / "prazium-admin"), "revoke-key", other_id],
        capture_output=True,
        text=True,
        env=cli.env,
        check=False,
    )
    assert admin_cli.returncode == 0, admin_cli.stderr
    assert other_id in admin_cli.stdout and "revoked" in admin_cli.stdout
    revoked_at = time.monotonic()
    wait_for(lambda: status_with(other) == 401, KEY_CACHE_SECONDS + 25, "the revoked key refused")
    # Generous: the machine is loaded; the bound that matters is the cache time.
    assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 25
    listing = subprocess.run(
        [str(BIN / "prazium-admin"), "list-keys", "--tenant", cli.namespace],
        capture_output=True,
        text=True,
        env=cli.env,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    assert other_id in listing.stdout and key["id"] in listing.stdout


def test_shell_completion_and_help(cli: Cli) -> None:
    done = subprocess.run(
        [str(PRAZIUM)],
        capture_output=True,
        text=True,
        env={
            **cli.env,
            "_PRAZIUM_COMPLETE": "complete_bash",
            "COMP_WORDS": "prazium ru",
            "COMP_CWORD": "1",
        },
        check=False,
    )
    assert done.returncode == 0 and done.stdout.split() == ["run"]
    for words, expected in (("prazium pre", ["previews"]), ("prazium run des", ["describe"])):
        completed = subprocess.run(
            [str(PRAZIUM)],
            capture_output=True,
            text=True,
            env={
                **cli.env,
                "_PRAZIUM_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - 1),
            },
            check=False,
        )
        assert completed.returncode == 0 and completed.stdout.split() == expected, words
    script = subprocess.run(
        [str(PRAZIUM), "--show-completion", "bash"],
        capture_output=True,
        text=True,
        env=cli.env,
        check=False,
    )
    assert script.returncode == 0 and "_prazium_completion" in script.stdout
    usage = subprocess.run(
        [str(PRAZIUM), "projects", "archive"],
        capture_output=True,
        text=True,
        env=cli.env,
        check=False,
    )
    assert usage.returncode == 2  # Typer's usage error
    # Arguments checked before the API is asked (no login needed to be told).
    neither = subprocess.run(
        [str(PRAZIUM), "run", "logs"], capture_output=True, text=True, env=cli.env, check=False
    )
    assert neither.returncode == 5 and "--verification" in neither.stderr
