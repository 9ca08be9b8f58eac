"""Building apps with the template agent and probing them from outside, for tests and bench.

* :func:`load_corpus` reads corpus.yaml (beside this module).
* :func:`documents_with_defaults` answers every clarifying question the way a
  hurried user would (first option, yes, free text left empty).
* :func:`build_app` runs every task of the plan through the template coder into
  a directory, and :func:`run_app_tests` runs the plan's verify command there.
* :func:`probe_app` starts the generated app as its own process and exercises
  every route of ROUTES.md over real HTTP, plus every relation of DATA.md
  (missing parent, filter by parent, deleting a parent).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import yaml

from prazium_appgen import (
    Entity,
    TemplateCoder,
    TemplatePlanner,
    parse_data_md,
    parse_routes_md,
)
from prazium_appgen.app.render import changed_value, sample_value
from prazium_kit.agentapi import PlanDocument
from prazium_kit.plan import topological_order

CORPUS_PATH = pathlib.Path(__file__).resolve().with_name("corpus.yaml")
MISSING_ID = 999999
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class CorpusCase:
    name: str
    description: str
    expected: tuple[str, ...]
    """Expected record names; ``A|B`` accepts either."""

    def hits(self, entity_names: list[str]) -> int:
        return sum(
            any(option in entity_names for option in expected.split("|"))
            for expected in self.expected
        )


def load_corpus() -> list[CorpusCase]:
    cases = yaml.safe_load(CORPUS_PATH.read_text(encoding="utf-8"))
    return [
        CorpusCase(case["name"], case["description"], tuple(case["expected"])) for case in cases
    ]


def documents_with_defaults(name: str, description: str) -> dict[str, str]:
    planner = TemplatePlanner()
    answers: dict[str, object] = {}
    for question in planner.clarify(name, description):
        if question["type"] in ("single_choice", "multi_choice"):
            answers[question["id"]] = question["options"][0]
        elif question["type"] == "boolean":
            answers[question["id"]] = True
    return planner.write_spec(name, description, answers, None, 1)


def build_app(root: pathlib.Path, documents: dict[str, str]) -> PlanDocument:
    """Write every task's files in merge order; returns the plan."""
    plan = TemplatePlanner().decompose("App", documents)
    tasks = {task["id"]: task for task in plan["tasks"]}
    coder = TemplateCoder()
    for task_id in topological_order(plan["tasks"]):
        coder.code(tasks[task_id], documents, root)
    return plan


def run_app_tests(root: pathlib.Path, plan: PlanDocument) -> tuple[bool, int, str]:
    """(passed, tests run, output tail) of the plan's verify command in ``root``."""
    command = [sys.executable if part == "python" else part for part in plan["verifyCommand"]]
    result = subprocess.run(
        command, check=False, cwd=root, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    ran = re.search(r"^Ran (\d+) tests? in", output, re.M)
    return result.returncode == 0, int(ran.group(1)) if ran else 0, output[-3000:]


# ------------------------------------------------------------------------ probe


@dataclass
class ProbeReport:
    exercised: list[tuple[str, str, int]] = field(default_factory=list)
    """(method, ROUTES.md path, status) for every route the probe called."""
    relation_checks: list[str] = field(default_factory=list)


class _Client:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with _OPENER.open(request, timeout=10) as response:
                payload = response.read()
                return response.status, json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            with error:
                payload = error.read()
                return error.code, json.loads(payload) if payload else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def probe_app(root: pathlib.Path, documents: dict[str, str]) -> ProbeReport:
    """Start ``python -m app`` in ``root`` and exercise it over HTTP; AssertionError on a
    wrong answer or a route of ROUTES.md the probe could not exercise."""
    port = _free_port()
    env = {
        **os.environ,
        "APP_HOST": "127.0.0.1",
        "APP_PORT": str(port),
        "APP_DATABASE": str(root / "probe.sqlite3"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        client = _Client(f"http://127.0.0.1:{port}")
        _wait_until_up(client, server)
        return _Probe(client, documents).run()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()


def _wait_until_up(client: _Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            stderr = server.stderr.read().decode() if server.stderr else ""
            raise AssertionError(f"the app exited with {server.returncode}: {stderr[-2000:]}")
        try:
            if client.call("GET", "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the app did not answer /health within 20 s")


class _Probe:
    def __init__(self, client: _Client, documents: dict[str, str]) -> None:
        self.client = client
        self.entities = {entity.name: entity for entity in parse_data_md(documents["DATA.md"])}
        self.routes = parse_routes_md(documents["ROUTES.md"])
        self.report = ProbeReport()

    def expect(self, method: str, path: str, body: Any, status: int, route: str = "") -> Any:
        got, answer = self.client.call(method, path, body)
        assert got == status, f"{method} {path} -> {got} (expected {status}): {answer}"
        if route:
            self.report.exercised.append((method, route, got))
        return answer

    def run(self) -> ProbeReport:
        for method, path in self.routes:
            self.exercise(method, path)
        for entity in self.entities.values():
            for reference in entity.references:
                self.check_relation(entity, reference.name)
        called = {(method, path) for method, path, _ in self.report.exercised}
        missing = [route for route in self.routes if route not in called]
        assert not missing, f"routes of ROUTES.md the probe could not exercise: {missing}"
        return self.report

    def exercise(self, method: str, path: str) -> None:
        if path == "/health":
            body = self.expect(method, path, None, 200, path)
            assert body["status"] == "ok", body
            return
        if path.startswith("/api/auth/"):
            self.exercise_auth(method, path)
            return
        for entity in self.entities.values():
            if path == entity.collection_path:
                if method == "GET":
                    body = self.expect("GET", path + "?limit=1000", None, 200)
                    self.report.exercised.append(("GET", path, 200))
                    assert isinstance(body["items"], list), body
                else:
                    self.create(entity, route=path)
                return
            if path == entity.item_path:
                self.exercise_item(entity, method, path)
                return
            for reference in entity.references:
                parent = self.entities[reference.references]
                if method == "GET" and path == f"{parent.item_path}/{entity.url_segment}":
                    child = self.create(entity)
                    parent_item = f"{parent.collection_path}/{child[reference.name]}"
                    body = self.expect("GET", f"{parent_item}/{entity.url_segment}", None, 200)
                    self.report.exercised.append(("GET", path, 200))
                    assert body["items"] == [child], body
                    self.expect("GET", f"{parent.collection_path}/{MISSING_ID}/"
                                f"{entity.url_segment}", None, 404)  # fmt: skip
                    return

    def exercise_item(self, entity: Entity, method: str, route: str) -> None:
        record = self.create(entity)
        item = f"{entity.collection_path}/{record['id']}"
        if method == "GET":
            assert self.expect("GET", item, None, 200, route) == record
        elif method == "PUT":
            writable = [f for f in entity.fields if not f.references] or list(entity.fields)
            change = {writable[0].name: changed_value(writable[0])}
            assert self.expect("PUT", item, change, 200, route) == {**record, **change}
        elif method == "DELETE":
            self.expect("DELETE", item, None, 204, route)
            self.expect("GET", item, None, 404)

    def exercise_auth(self, method: str, path: str) -> None:
        credentials = {"email": f"probe{len(self.report.exercised)}@example.com",
                       "password": "probe password"}  # fmt: skip
        if path.endswith("/register"):
            self.expect("POST", path, credentials, 201, path)
            return
        self.expect("POST", "/api/auth/register", credentials, 201)
        login = self.expect("POST", "/api/auth/login", credentials, 200,
                            path if path.endswith("/login") else "")  # fmt: skip
        self.client.token = login["token"]
        try:
            if path.endswith("/me"):
                assert self.expect("GET", path, None, 200, path)["email"] == credentials["email"]
            elif path.endswith("/logout"):
                self.expect("POST", path, None, 204, path)
                self.expect("GET", "/api/auth/me", None, 401)
        finally:
            self.client.token = ""

    def create(self, entity: Entity, overrides: dict[str, Any] | None = None,
               route: str = "") -> dict[str, Any]:  # fmt: skip
        payload = {f.name: sample_value(f) for f in entity.fields if not f.references}
        for reference in entity.references:
            parent = self.entities.get(reference.references)
            if parent is not None and parent.name != entity.name:
                payload[reference.name] = self.create(parent)["id"]
        payload.update(overrides or {})
        record: dict[str, Any] = self.expect("POST", entity.collection_path, payload, 201, route)
        return record

    def check_relation(self, entity: Entity, field_name: str) -> None:
        reference = next(f for f in entity.fields if f.name == field_name)
        parent = self.entities[reference.references]
        collection = entity.collection_path
        payload = {f.name: sample_value(f) for f in entity.fields if not f.references}
        for other in entity.references:
            payload[other.name] = self.create(self.entities[other.references])["id"]
        body = self.expect("POST", collection, {**payload, field_name: MISSING_ID}, 400)
        assert field_name in body["error"]["fields"], body
        first, second = self.create(entity), self.create(entity)
        listing = self.expect("GET", f"{collection}?{field_name}={first[field_name]}", None, 200)
        assert first in listing["items"] and second not in listing["items"], listing
        parent_item = f"{parent.collection_path}/{first[field_name]}"
        child_item = f"{collection}/{first['id']}"
        if reference.on_delete == "cascade":
            self.expect("DELETE", parent_item, None, 204)
            self.expect("GET", child_item, None, 404)
            outcome = "cascades"
        else:
            body = self.expect("DELETE", parent_item, None, 409)
            assert body["error"]["code"] == "has_children", body
            assert self.expect("GET", child_item, None, 200) == first
            outcome = "is refused while children exist"
        self.report.relation_checks.append(
            f"{entity.name}.{field_name} -> {parent.name}: missing parent 400, "
            f"filter by parent, delete {outcome}"
        )
