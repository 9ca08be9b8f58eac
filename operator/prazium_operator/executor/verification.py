"""Where the generated app's tests run (verify.Runner), per executor: untrusted code,
so never in the operator's process, and never with a platform credential.

local: a sandboxed child (prazium_operator.sandbox): a private copy of the tree, scrubbed
environment, a uid of its own when the operator is root.

kubernetes: a Job of its own in the job namespace, like a worker's: the worker image,
restricted Pod, no ServiceAccount token, no Secret at all, and only this run's
verification directory of the repo volume mounted (subPath). The exit code comes from
the kubelet (the container's terminated state), the output from a file in that
directory (read bounded: the tests may write anything there). The tests start only once
the Pod's NetworkPolicy is in force (policy_gate.py); a Pod whose policy was not in
force in time ran nothing, and the verification runs again in a new Pod, up to
GATE_TRIES Pods in all. A verification whose Pod was on a lost node (executor/nodes.py)
runs again in a new Job off that node, up to NODE_LOST_TRIES times in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_kit import paths
from prazium_operator import go_signal, policy_gate, sandbox
from prazium_operator.executor import (
    cachedreads,
    jobspec,
    jobwatch,
    noderoom,
    nodes,
    prestart,
    sandboxing,
)
from prazium_operator.settings import Settings
from prazium_operator.verify import Outcome, Runner

log = logging.getLogger(__name__)
MAX_OUTPUT_BYTES = 1024 * 1024
# The Job's end is polled this often (a verification of a small app takes a second).
POLL_SECONDS = 0.2
# Exit codes from here on are a signal's (128 + its number).
SIGNALLED = 128
# Past the Job's own deadline: how long to wait for the kubelet to report it.
DEADLINE_SLACK_SECONDS = 60.0
VERIFY_SCRIPT = 'out=$1; cd "$2" || exit 125; shift 2; "$@" >"$out" 2>&1'
# How many Jobs one verification may take when the nodes under them are lost.
NODE_LOST_TRIES = 3
# Pods tried when the policy gate stops the first (as a task's attempts): past that the
# run fails saying so, rather than verify outside its policy.
GATE_TRIES = 3
# How often a verification that found no room on the nodes looks again.
ROOM_POLL_SECONDS = 1.0


class NodeLost(Exception):
    """The verification's Pod is on a lost node: its outcome will never be known."""


def runner(
    settings: Settings,
    namespace: str,
    project: str,
    run: str,
    room: prestart.Room | None = None,
    node_room: noderoom.NodeRoom | None = None,
) -> Runner:
    if settings.executor == "kubernetes":
        return JobRunner(settings, namespace, project, run, room, node_room)
    return LocalRunner(settings, namespace, project, run)


class LocalRunner:
    def __init__(self, settings: Settings, namespace: str, project: str, run: str) -> None:
        self.identity = f"{namespace}/{project}/{run}/verify"

    async def run(
        self, export: Callable[[Path], None], command: list[str], timeout: float
    ) -> Outcome:
        # Without root there is no uid to drop to: the tests still run with a scrubbed
        # environment in a private copy (the README's single-tenant local mode).
        box = sandbox.Sandbox.create(self.identity, allow_unsandboxed=True)
        try:
            await asyncio.to_thread(export, box.work)
            await asyncio.to_thread(box.hand_over)
            env = {**sandbox.base_env(box.home), "PYTHONDONTWRITEBYTECODE": "1"}
            argv = sandbox.resolve_python(command)
            code, output, timed_out = await asyncio.to_thread(
                functools.partial(sandbox.run_command, own_session=True), box, argv, env, timeout
            )
        finally:
            await asyncio.to_thread(box.remove)
        return Outcome(exit_code=code, output=output, timed_out=timed_out)


class JobRunner:
    """A verification Job; prestart() creates it ahead (while the run's last tasks run
    and merge), its Pod waiting for the go signal that run() gives once the merged
    tree is exported into the directory it mounts."""

    def __init__(
        self,
        settings: Settings,
        namespace: str,
        project: str,
        run: str,
        room: prestart.Room | None = None,
        node_room: noderoom.NodeRoom | None = None,
    ) -> None:
        self.settings = settings
        self.namespace, self.project, self.run_name = namespace, project, run
        self.dir = paths.task_worktree(settings.data_dir, namespace, project, run, "verify")
        self.room = room
        # The nodes' room (noderoom.py): the Job is created where its Pod fits.
        self.node_room = node_room
        self.nodes = nodes.health(settings.node_lost_seconds)

    @property
    def go(self) -> Path:
        return go_signal.verification_go(self.dir)

    def job_prefix(self) -> str:
        """The run's verification Jobs' names start so (one at a time, each new name)."""
        return f"verify-{jobspec.digest(f'{self.namespace}/{self.run_name}')}-"

    def new_job_name(self) -> str:
        return f"{self.job_prefix()}{uuid.uuid4().hex[:6]}"

    def _waiting_name(self) -> str | None:
        """The Job created ahead for this run, if the room holds one."""
        if self.room is None:
            return None
        prefix = self.job_prefix()
        names = self.room.of_run(self.namespace, self.run_name)
        return next((name for name in names if name.startswith(prefix)), None)

    async def prestart(self, command: list[str], timeout: float) -> bool:
        """Create the verification Job now, waiting for its go signal; False when the
        room for waiting Pods is full. Idempotent while it waits."""
        if self.room is None or self._waiting_name() is not None:
            return self.room is not None
        if not self.room.free():
            return False
        name = self.new_job_name()
        if self.node_room is not None:
            await asyncio.to_thread(self.node_room.refresh)
            refused = self.node_room.claim(name, ahead=True)
            if refused is not None:
                log.debug("no verification Job ahead: %s", refused)
                return False
        self.room.take(name, self.namespace, self.run_name, deadline_seconds=max(int(timeout), 1))
        try:
            await self._delete_all()  # a finished one of an earlier round
            await asyncio.to_thread(self._fresh_dir)
            avoid = await asyncio.to_thread(self.nodes.to_avoid)
            job = build_verification_job(
                self.settings, self, name, command, int(timeout), waiting=True, avoid_nodes=avoid
            )
            await asyncio.to_thread(
                client.BatchV1Api().create_namespaced_job,
                self.settings.job_namespace,
                job,  # type: ignore[arg-type]
            )
        except BaseException:
            self.room.release(name)
            if self.node_room is not None:
                self.node_room.drop(name)
            raise
        log.info("created verification Job %s ahead of the merge", name)
        return True

    async def discard(self) -> None:
        """The run will not verify after all (cancelled, failed): remove a waiting Job."""
        name = self._waiting_name()
        if name is not None and self.room is not None:
            self.room.release(name)
        await self._delete_all()

    def _fresh_dir(self) -> None:
        shutil.rmtree(self.dir, True)
        (self.dir / "tree").mkdir(parents=True)

    async def run(
        self, export: Callable[[Path], None], command: list[str], timeout: float
    ) -> Outcome:
        """The tests' outcome. A Pod on a lost node runs again in a new Job (NodeLost, up
        to NODE_LOST_TRIES Jobs); policy_gate.NotEnforced when GATE_TRIES Pods had no
        network policy in force in time (the tests never ran)."""
        output = self.dir / "output.log"
        lost_tries = gate_tries = 0
        try:
            while True:
                name = await self._begin(export, command, timeout)
                try:
                    code, timed_out = await self._wait(name, timeout + DEADLINE_SLACK_SECONDS)
                except NodeLost as lost:
                    lost_tries += 1
                    if lost_tries >= NODE_LOST_TRIES:
                        raise RuntimeError(f"verification Job {name}: {lost}") from lost
                    log.warning("verification Job %s: %s; running it again", name, lost)
                    await self._delete_all()
                    continue
                if not _stopped_by_policy_gate(code, output):
                    text = await asyncio.to_thread(_read_tail, output)
                    return Outcome(exit_code=code, output=text, timed_out=timed_out)
                gate_tries += 1
                message = policy_gate.not_enforced_message(self.settings.worker_policy_gate_seconds)
                log.warning("verification Job %s: %s", name, message)
                await self._delete_all()
                if gate_tries >= GATE_TRIES:
                    raise policy_gate.NotEnforced(f"{message} ({GATE_TRIES} Pods)")
        finally:
            await self._delete_all()
            await asyncio.to_thread(shutil.rmtree, self.dir, True)

    async def _begin(
        self, export: Callable[[Path], None], command: list[str], timeout: float
    ) -> str:
        """The verification's Job, given its go signal once the tree is in place: the
        one created ahead if it still waits, else a new one; its name."""
        tree = self.dir / "tree"
        name = self._waiting_name()
        waited = self.room.release(name) if self.room is not None and name else None
        if name is None or waited is None or not await self._waiting(name, command):
            name = self.new_job_name()
            await self._wait_for_room(name, timeout)
            await self._delete_all()  # an earlier try's Job (operator restart): start afresh
            await asyncio.to_thread(self._fresh_dir)
            await asyncio.to_thread(export, tree)
            await asyncio.to_thread(go_signal.write, self.go)
            avoid = await asyncio.to_thread(self.nodes.to_avoid)
            job = build_verification_job(
                self.settings, self, name, command, int(timeout), avoid_nodes=avoid
            )
            await asyncio.to_thread(
                client.BatchV1Api().create_namespaced_job,
                self.settings.job_namespace,
                job,  # type: ignore[arg-type]
            )
        else:
            # Its Pod mounts this directory already: the tree goes into it, then go.
            await asyncio.to_thread(export, tree)
            await asyncio.to_thread(go_signal.write, self.go)
            await self._extend_deadline(name, waited.created, timeout)
        return name

    async def _wait_for_room(self, name: str, limit: float) -> None:
        """Until a place on the nodes is taken for name's Pod (the newest Job created
        ahead given up for it), the room cannot be read, or limit seconds passed (then
        its Pod waits for a node as it would have)."""
        if self.node_room is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        told = False
        while True:
            await asyncio.to_thread(self.node_room.refresh)
            missing = self.node_room.claim(name)
            if missing is None:
                return
            if loop.time() >= deadline:
                self.node_room.record(name)
                return
            if self.room is not None:
                await prestart.discard_for_room(
                    self.room, self.node_room, self.settings.job_namespace
                )
            if not told:
                told = True
                log.info(
                    "the verification of run %s/%s waits for room on the nodes: %s",
                    self.namespace,
                    self.run_name,
                    missing,
                )
            await asyncio.sleep(ROOM_POLL_SECONDS)

    async def _waiting(self, name: str, command: list[str]) -> bool:
        """Whether the Job created ahead still waits for this command (the plan's
        verifyCommand cannot change within a run, but a Job that ended is no use)."""
        try:
            job: Any = await asyncio.to_thread(
                client.BatchV1Api().read_namespaced_job, name, self.settings.job_namespace
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        ended = any(
            c.type in ("Complete", "Failed") and c.status == "True"
            for c in (job.status.conditions if job.status else None) or []
        )
        args = job.spec.template.spec.containers[0].command or []
        return not ended and args[-len(command) :] == command

    async def _extend_deadline(self, name: str, created: float, timeout: float) -> None:
        deadline = prestart.extended_deadline(max(int(timeout), 1), created)
        try:
            await asyncio.to_thread(
                client.BatchV1Api().patch_namespaced_job,
                name,
                self.settings.job_namespace,
                {"spec": {"activeDeadlineSeconds": deadline}},
            )
        except ApiException as exc:
            log.warning("could not extend the deadline of Job %s: %s", name, exc.reason)

    def labels(self) -> dict[str, str]:
        return jobspec.run_labels(self.namespace, self.project, self.run_name, "verification")

    async def _wait(self, name: str, limit: float) -> tuple[int, bool]:
        """(exit code, timed out) once the Job's container ended. The exit code is the
        kubelet's (the Pod's terminated state; the tests could write any file), read as
        soon as the kubelet reports it rather than after the Job controller's next
        status sync, which batches Pod updates by a second."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        ns = self.settings.job_namespace
        while loop.time() < deadline:
            # Served from the job namespace's watches (jobwatch.py) once they have listed.
            pods = await jobwatch.pods_of(ns, name)
            code = _exit_code(pods)
            if code is None:
                await self._check_nodes(pods)
            # Killed (by a signal, or its Pod deleted): perhaps by the Job's deadline,
            # which only the Job's conditions tell.
            if code is not None and code < SIGNALLED:
                return code, False
            job: Any = jobwatch.of(ns).job(name) or await asyncio.to_thread(
                cachedreads.read_job, ns, name
            )
            for cond in (job.status.conditions if job.status else None) or []:
                if cond.status != "True":
                    continue
                if cond.reason == "DeadlineExceeded":
                    return -1, True
                if cond.type in ("Complete", "Failed"):
                    fallback = 0 if cond.type == "Complete" else -1
                    return (code if code is not None else fallback), False
            await asyncio.sleep(POLL_SECONDS)
        return -1, True

    async def _check_nodes(self, pods: list[Any]) -> None:
        for pod in pods:
            node = (pod.spec.node_name if pod.spec else None) or ""
            why = await asyncio.to_thread(self.nodes.why_lost, node)
            if why is not None:
                raise NodeLost(f"its Pod {pod.metadata.name} was on a lost node: {why}")

    async def _delete_all(self) -> None:
        run = jobspec.run_selector(self.namespace, self.run_name)
        selector = f"{run},{jobspec.LABEL_ROLE}=verification"
        with contextlib.suppress(ApiException):
            await asyncio.to_thread(
                client.BatchV1Api().delete_collection_namespaced_job,
                self.settings.job_namespace,
                label_selector=selector,
                propagation_policy="Background",
                grace_period_seconds=0,
            )


def _stopped_by_policy_gate(code: int, output: Path) -> bool:
    """The Pod's process exited as the policy gate does, and the test command never
    started (its output file, which the script's redirection makes first, is absent)."""
    return code == policy_gate.EXIT_NOT_ENFORCED and not os.path.lexists(output)


def _exit_code(pods: list[Any]) -> int | None:
    """The exit code of the verification's container, once it ended (any of its Pods:
    one, backoffLimit 0); a Pod being deleted counts as killed."""
    for pod in pods:
        for status in (pod.status.container_statuses if pod.status else None) or []:
            ended = status.state.terminated if status.state else None
            if ended is not None:
                code = int(ended.exit_code)
                return max(code, SIGNALLED) if pod.metadata.deletion_timestamp else code
    return None


def build_verification_job(
    settings: Settings,
    job_runner: JobRunner,
    name: str,
    command: list[str],
    timeout: int,
    *,
    waiting: bool = False,
    avoid_nodes: Sequence[str] = (),
) -> dict[str, Any]:
    """The Job running command in this run's verification tree: no Secret, no credential,
    only the verification directory of the repo volume mounted. The command starts on
    the go signal (worker/waiting.py): at once when the Job is created with the tree in
    place; waiting: created ahead, the tree exported later; and, with the policy gate
    on, not before the Pod's network policy is in force."""
    work = job_runner.dir
    script = ["bash", "-c", VERIFY_SCRIPT, "verify", str(work / "output.log"), str(work / "tree")]
    gate = [
        "python",
        "-m",
        "prazium_operator.worker.waiting",
        "--go",
        str(job_runner.go),
        "--policy-gate",
        sandboxing.policy_gate_seconds(settings),
        "--",
    ]
    env = [{"name": "HOME", "value": "/tmp"}, {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}]
    labels = job_runner.labels()
    job = jobspec.sandbox_job(
        settings,
        name=name,
        labels=labels,
        deadline_seconds=max(timeout, 1),
        avoid_nodes=avoid_nodes,
        container=jobspec.sandbox_container(
            settings,
            "verify",
            [*gate, *script, *command],
            env,
            [jobspec.repo_mount(settings, work)],
        ),
    )
    if waiting:
        # On the Job only (its Pod's labels are the NetworkPolicy's to select).
        job["metadata"]["labels"] = {**labels, prestart.LABEL_START: prestart.PRESTARTED}
    return sandboxing.verification_job(job, settings)


def _read_tail(path: Path) -> str:
    """The output's last MAX_OUTPUT_BYTES; never through a symlink the tests planted."""
    try:
        with open(path, "rb", opener=_no_follow) as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(size - MAX_OUTPUT_BYTES, 0))
            return handle.read().decode(errors="replace")
    except (FileNotFoundError, OSError):
        return ""


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
