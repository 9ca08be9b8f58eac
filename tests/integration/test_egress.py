"""A worker Pod's way out: the operator's egress proxy, the only destination its
NetworkPolicy allows (kube-router enforces it on the node).

"Outside" is a network namespace on this machine with two addresses in 198.18.N.0/24
(routed through a veth pair, like any host beyond the node) and an HTTP server on
both. The Project allows the first. A `command` coder, in the Pod, under the node's
worker runtime, tries: the allowed host through the proxy (CONNECT and plain HTTP),
the other one through the proxy, the LLM endpoint (an OpenAI stand-in on the node's
loopback, the operator's configured base URL), this machine's PostgreSQL through the
proxy, and the allowed host directly (no proxy). Allowed and LLM are reached; the
rest are not, and the proxy's refusals are in the Task's status.egress and its log.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from prazium_kit import paths
from tests.support.build import (
    create,
    git,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.node import job_namespace, operator_env, stack_port
from tests.support.openai_standin import OpenAIStandin
from tests.support.sandbox_python import python_line
from tests.support.services import Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUN = "notes-egress"
MARK = "EGRESS-PROBE "

SERVER = """
import http.server, sys
class Reply(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("reached " + self.server.server_address[0] + " " + sys.argv[2]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Reply).serve_forever()
"""

# In the Pod: what each attempt came to, written into the task's scope and printed.
PROBE = """
import http.client, json, os, socket, urllib.parse, urllib.request
proxy = urllib.parse.urlsplit(os.environ.get("HTTPS_PROXY", "http://none:1"))

def tunnel(host, port):
    conn = http.client.HTTPConnection(proxy.hostname, proxy.port, timeout=20)
    conn.set_tunnel(host, port)
    try:
        conn.request("GET", "/")
        return "reached:" + conn.getresponse().read().decode()[:200]
    except OSError as exc:
        return "refused:" + str(exc)[:200]

def plain(url, data=None):
    try:
        return "reached:" + urllib.request.urlopen(url, data=data, timeout=20).read().decode()[:200]
    except urllib.error.HTTPError as exc:
        return "http-%d:" % exc.code + exc.read().decode(errors="replace")[:200]
    except OSError as exc:
        return "refused:" + str(exc)[:200]

def direct(host, port):
    try:
        socket.create_connection((host, port), timeout=8).close()
        return "reached"
    except OSError as exc:
        return "refused:" + type(exc).__name__

def probe():
    return {
        "proxy": os.environ.get("HTTPS_PROXY", ""),
        "allowedTunnel": tunnel(ALLOWED, PORT),
        "allowedPlain": plain("http://%s:%d/" % (ALLOWED, PORT)),
        "otherTunnel": tunnel(OTHER, PORT),
        "llm": plain(LLM + "/chat/completions", b"{}"),
        "postgresViaProxy": tunnel("127.0.0.1", PG_PORT),
        "allowedDirect": direct(ALLOWED, PORT),
    }
"""

CODER = """
import json, os, pathlib
from prazium_operator.agents import get_coder
task = json.loads(os.environ["PRAZIUM_TASK_JSON"])
docs = {p.name: p.read_text() for p in pathlib.Path("docs/spec").glob("*.md")}
get_coder("template").code(task, docs, pathlib.Path("."))
if "README.md" in task["pathScope"]:
    found = json.dumps(probe(), sort_keys=True)
    print(MARK + found, flush=True)
    with open("README.md", "a") as readme:
        readme.write("\\n" + MARK + found + "\\n")
"""


@contextmanager
def outside_network() -> Iterator[tuple[str, str, int]]:
    """Two addresses beyond the node, served by one HTTP server: (first, second, port)."""
    tag = uuid.uuid4().hex[:6]
    subnet = f"198.18.{int(tag[:2], 16)}"
    ns, host_end, ns_end = f"pzext-{tag}", f"pzx{tag}h", f"pzx{tag}n"
    port = 8000 + int(tag[2:4], 16)

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    server: subprocess.Popen[bytes] | None = None
    try:
        ip("netns", "add", ns)
        ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        ip("link", "set", ns_end, "netns", ns)
        ip("addr", "add", f"{subnet}.1/24", "dev", host_end)
        ip("link", "set", host_end, "up")
        for address in (f"{subnet}.2/24", f"{subnet}.3/24"):
            ip("-n", ns, "addr", "add", address, "dev", ns_end)
        ip("-n", ns, "link", "set", ns_end, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "route", "add", "default", "via", f"{subnet}.1")
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, str(port), tag]
        )

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://{subnet}.2:{port}/", timeout=2) as page:
                    return b"reached" in page.read()
            except OSError:
                return False

        wait_for(answers, 30, "the outside server")
        yield f"{subnet}.2", f"{subnet}.3", port
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _command(allowed: str, other: str, port: int, llm: str) -> str:
    """The coder, compressed: a Run's agent.command holds at most 2000 bytes."""
    targets = (
        f"ALLOWED = {allowed!r}\nOTHER = {other!r}\nPORT = {port}\nLLM = {llm!r}\n"
        f"PG_PORT = {stack_port('PG')}\nMARK = {MARK!r}\n"
    )
    packed = base64.b85encode(zlib.compress((targets + PROBE + CODER).encode(), 9)).decode()
    return python_line(f"import base64, zlib\nexec(zlib.decompress(base64.b85decode({packed!r})))")


def _probe_result(repo: str) -> dict[str, Any]:
    for ref in git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/").split():
        if "README.md" not in git(repo, "ls-tree", "-r", "--name-only", ref).split():
            continue
        for line in git(repo, "show", f"{ref}:README.md").splitlines():
            if line.startswith(MARK):
                return dict(json.loads(line[len(MARK) :]))
    raise AssertionError("no branch holds the probe's findings")


def test_a_worker_reaches_its_allowed_host_and_the_llm_and_nothing_else(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    with (
        outside_network() as (allowed, other, port),
        OpenAIStandin("sk-standin") as llm,
        job_namespace(data_dir) as jobs_ns,
    ):
        proc = start_operator(
            stack,
            data_dir,
            [namespace],
            tmp_path / "logs",
            **operator_env(jobs_ns, PRAZIUM_OPENAI_BASE_URL=llm.base_url),
        )
        try:
            # The tenant's allowlist: the first outside address only.
            manifest = yaml.safe_load((EXAMPLES / "project-gitops.yaml").read_text())
            spec = {**manifest["spec"], "network": {"egress": [allowed]}}
            create(namespace, "projects", "Project", "notes-gitops", spec)
            project = wait_phase(namespace, "projects", "notes-gitops", {"approved"}, proc)
            repo = str(data_dir / project["status"]["repoPath"])
            started = time.time()
            create(
                namespace,
                "runs",
                "Run",
                RUN,
                {
                    "projectRef": {"name": "notes-gitops"},
                    "agent": {
                        "coder": "command",
                        "command": _command(allowed, other, port, llm.base_url),
                    },
                },
            )
            run = wait_run_done(namespace, RUN, proc, timeout=600)
            assert run["status"]["phase"] == "succeeded", run["status"].get("message")
            found = _probe_result(repo)
            journal = wait_final_event(stack.database_url, namespace, RUN, proc)
        finally:
            proc.stop()
        operator_log = proc.log_path.read_text(errors="replace")

    assert found["proxy"].startswith("http://"), found
    # Reached: the allowed host, both ways through the proxy, and the LLM endpoint (the
    # stand-in answers a request without its key 401).
    assert found["allowedTunnel"].startswith("reached:reached"), found
    assert found["allowedPlain"].startswith("reached:reached"), found
    assert found["llm"].startswith("http-401:") and "invalid api key" in found["llm"], found
    # Not reached: the other host, the node's PostgreSQL through the proxy (a listed
    # name could resolve there; an address on this machine is never let through), and
    # the allowed host itself without the proxy (the NetworkPolicy).
    assert found["otherTunnel"].startswith("refused:") and "403" in found["otherTunnel"], found
    assert found["postgresViaProxy"].startswith("refused:") and "403" in found["postgresViaProxy"]
    assert found["allowedDirect"].startswith("refused:"), found

    # The refusals, where the user looks: the Task's status and the attempt's log.
    [task] = [t for t in tasks_of(namespace, RUN) if "egress" in (t.get("status") or {})]
    egress = task["status"]["egress"]
    blocked = {(b["host"], b["port"]): b for b in egress["blocked"]}
    assert set(blocked) == {(other, port), ("127.0.0.1", stack_port("PG"))}, egress
    assert egress["blockedTotal"] == 2
    entry = blocked[(other, port)]
    assert entry["reason"] == "not in spec.network.egress" and entry["count"] == 1
    when = entry["time"]
    assert started - 5 <= _epoch(when) <= time.time(), when
    log = paths.task_log_path(
        data_dir, namespace, RUN, task["spec"]["definition"]["id"], int(task["status"]["attempts"])
    ).read_text()
    assert f"[prazium: egress blocked: {other}:{port} at {when}: not in spec.network.egress]" in log
    assert f"egress blocked: 127.0.0.1:{stack_port('PG')}" in log
    assert f"egress blocked: {other}:{port}" in operator_log
    # The journal keeps the contract's events only (refusals are not among them).
    assert journal[-1]["type"] == "RUN_COMPLETED"


def _epoch(stamp: str) -> float:
    from prazium_kit.timefmt import parse

    return parse(stamp).timestamp()


@pytest.fixture(autouse=True)
def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.fail("this test makes a network namespace: run `make test` as root")
