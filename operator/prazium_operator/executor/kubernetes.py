"""The kubernetes executor: one batch/v1 Job per task attempt.

The Job runs the same worker command as the local executor, in the worker
image. Of the shared repo volume it mounts only its own project's repository and
workspace and its run's results directory (subPath), each at the path it has on
the operator's side, so every path in the request, and the absolute `gitdir:`
paths git records in worktrees, are valid inside the Pod; the repository's
config, hooks and info (what makes git run commands) are mounted read-only on
top, since the operator runs git in that repository too. backoffLimit 0: retries
are the operator's (attempt + 1, a new Job).

Jobs run in the operator's own namespace (PRAZIUM_JOB_NAMESPACE), never in the
tenant's: a Pod can only mount a claim and read Secrets of its own namespace, and
the repo volume claim and the database Secret (which holds every tenant's data)
must stay out of tenant namespaces. So a Job cannot be owned by its Task
(ownerReferences do not cross namespaces); it carries labels naming its task
(prazium.io/task-namespace, prazium.io/run, prazium.io/task) and the operator
deletes it itself: once the task's result is read (release), on cancel (stop),
and when the Run is deleted (release_run, by label; ttlSecondsAfterFinished is
only a backstop).

The worker's output goes to the Pod's log and, with its uid, to the attempt's log
file on the volume (results/<ns>/<run>/<task>-<attempt>.log, capped, as with the
local executor), so it outlives the Pod. The repositories on the volume belong to the
operator's uid: the worker's git is told to trust them (safe.directory).

The worker runs untrusted code (a coder's CLI, model output), so it holds no platform
credential: no database URL (it reports through its event and result files, which the
operator checks and ingests), no ServiceAccount token, no kubeconfig. Secrets are
referenced, never copied, and the operator reads none. The agent's credentials, the tenant's own:
spec.agent.credentialsSecret names a Secret in the TENANT namespace, which a Pod in
the job namespace cannot read. The worker gets instead, as envFrom, the Secret
"<tenant namespace>.<credentialsSecret>" in the job namespace, created there by the
platform admin (credentials_secret_name). A
namespace name holds no ".", so the prefix is unambiguous: a tenant can only ever
reach Secrets provisioned for its own namespace ("a" + "b-c" and "a-b" + "c"
would collide with "-" as the separator).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_kit import paths
from prazium_kit.models import ExecutorRef
from prazium_operator import go_signal, policy_gate, recorder, sandbox
from prazium_operator.executor import (
    cachedreads,
    filewatch,
    jobspec,
    jobwatch,
    noderoom,
    nodes,
    prestart,
    sandboxing,
)
from prazium_operator.executor.base import WorkerState, WorkerStatus
from prazium_operator.settings import Settings
from prazium_operator.worker_contract import WorkerRequest, log_path, read_result, request_path

log = logging.getLogger(__name__)

# Parts of a bare repository that make git run commands (config: core.fsmonitor,
# drivers; hooks) or change what it reads (info/attributes, objects/info/alternates):
# read-only in the Pod, as the operator's own git runs in the same repository.
READ_ONLY_REPO_PARTS = ("config", "hooks", "info", "objects/info")
# A running worker's result file is looked for on every poll (reconcilers/run: 0.2 s),
# its Job and Pod (as watched, jobwatch.py) only this often: each look also asks
# whether the Pod's node is lost.
JOB_CHECK_SECONDS = 1.0
# The first line says, from inside, which uid the worker runs as and whether it could
# write its root filesystem (it must not); it goes to the Pod's log and the attempt's
# kept log. The worker then writes its output to both itself (worker/logcapture.py:
# the kept log capped, the Pod's log as it comes); exec keeps its exit status.
# Then the worker waits for its go signal (worker/waiting.py: a Job may be created
# before its task's dependencies are done, go_signal.py) and for its NetworkPolicy to be
# in force (policy_gate.py), and runs in the same process.
WORKER_SCRIPT = (
    'set -o pipefail; echo "worker pod $HOSTNAME: $(id); root filesystem:'
    ' $(touch /.probe 2>/dev/null && echo writable || echo read-only)" | tee -a "$2";'
    ' exec python -m prazium_operator.worker.waiting --request "$1" --log "$2" --go "$3"'
    ' --coder "$4" --policy-gate "$5"'
)


def job_name(namespace: str, task_cr: str, attempt: int) -> str:
    """Natural key (tenant, task, attempt): creating the same attempt twice is a no-op
    (409). All tenants' Jobs share the job namespace: the hash of namespace/task keeps
    names apart however the readable prefix is cut."""
    readable = f"{namespace}-{task_cr}"[:40].rstrip("-")
    return f"{readable}-{jobspec.digest(f'{namespace}/{task_cr}')}-a{attempt}"


def credentials_secret_name(namespace: str, secret: str) -> str:
    """The Secret in the job namespace holding a tenant's agent credentials."""
    return f"{namespace}.{secret}"


def project_mounts(request: WorkerRequest, settings: Settings) -> list[dict[str, Any]]:
    """The worker's view of the repo volume: its project's repository (with the parts
    git executes read-only), workspace and its run's results, nothing else."""
    data = settings.data_dir
    repo = paths.repo_path(data, request.namespace, request.project)
    workspace = paths.project_workspace(data, request.namespace, request.project)
    results = Path(request.result_path).parent
    return [
        jobspec.repo_mount(settings, repo),
        *(
            jobspec.repo_mount(settings, repo / part, read_only=True)
            for part in READ_ONLY_REPO_PARTS
        ),
        jobspec.repo_mount(settings, workspace),
        jobspec.repo_mount(settings, results),
    ]


def worker_env(settings: Settings) -> list[dict[str, str]]:
    """The worker's plain environment: no platform credential, no Secret's value."""
    return [
        {"name": "PRAZIUM_DATA_DIR", "value": str(settings.data_dir)},
        # The cap of the attempt's kept log (worker/logcapture.py), as the operator's.
        {"name": "PRAZIUM_TASK_LOG_MAX_BYTES", "value": str(settings.task_log_max_bytes)},
        # Repositories on the volume belong to the operator's uid, not the worker's.
        {"name": "GIT_CONFIG_COUNT", "value": "1"},
        {"name": "GIT_CONFIG_KEY_0", "value": "safe.directory"},
        {"name": "GIT_CONFIG_VALUE_0", "value": "*"},
        # The Pod is the sandbox: the `command` coder gets the tenant's credentials.
        {"name": sandbox.IN_POD_ENV, "value": "true"},
        {"name": "HOME", "value": "/tmp"},
    ]


def build_job(
    request: WorkerRequest,
    owner: dict[str, Any],
    settings: Settings,
    avoid_nodes: Sequence[str] = (),
) -> dict[str, Any]:
    """The Job manifest for one task attempt (plain dict, apply-ready), in the job
    namespace; owner is the Task, named in labels (not an ownerReference); its Pod keeps
    off avoid_nodes (lost ones)."""
    task_cr = owner["metadata"]["name"]
    result = Path(request.result_path)
    # The agent's credentials become the worker's environment, key by key, without
    # their values ever appearing in the Job; from the admin-provisioned
    # "<tenant>.<credentialsSecret>" in the job namespace (see the module docstring).
    secret = request.credentials_secret
    env_from = (
        [{"secretRef": {"name": credentials_secret_name(request.namespace, secret)}}]
        if secret
        else []
    )
    command = [
        "bash",
        "-c",
        WORKER_SCRIPT,
        "worker",
        str(request_path(result)),
        str(log_path(result)),
        str(go_signal.task_go(result)),
        request.coder,
        sandboxing.policy_gate_seconds(settings),
    ]
    job = jobspec.sandbox_job(
        settings,
        name=job_name(request.namespace, task_cr, request.attempt),
        labels=jobspec.run_labels(
            request.namespace, request.project, request.run, "worker", task_cr=task_cr
        ),
        annotations={
            "prazium.io/attempt": str(request.attempt),
            "prazium.io/task-name": task_cr,
            "prazium.io/run-name": request.run,
        },
        deadline_seconds=settings.task_deadline_seconds,
        avoid_nodes=avoid_nodes,
        container=jobspec.sandbox_container(
            settings,
            "worker",
            command,
            worker_env(settings),
            project_mounts(request, settings),
            env_from=env_from,
        ),
    )
    return sandboxing.worker_job(job, settings, request)


def _prepare(request: WorkerRequest, settings: Settings) -> None:
    """The directories the attempt's Pod mounts, and none of the attempt's files left.

    Earlier attempts' Pods could write the results directory: what they may have put at
    these names (a symlink, say) is removed, never written through."""
    result = Path(request.result_path)
    result.parent.mkdir(parents=True, exist_ok=True)
    paths.project_workspace(settings.data_dir, request.namespace, request.project).mkdir(
        parents=True, exist_ok=True
    )
    for stale in (
        result,
        recorder.events_path(result),
        request_path(result),
        go_signal.task_go(result),
    ):
        stale.unlink(missing_ok=True)


def _write_request(request: WorkerRequest, settings: Settings, *, prepared: bool) -> None:
    """The request file the worker reads, beside a cleared result (on the shared volume),
    then its go signal. prepared: _prepare ran when its Job was created ahead (the
    waiting Pod mounts those directories: they are not made again)."""
    result = Path(request.result_path)
    if prepared:
        for stale in (result, recorder.events_path(result), request_path(result)):
            stale.unlink(missing_ok=True)
    else:
        _prepare(request, settings)
    fd = os.open(request_path(result), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(request.to_json())
    go_signal.write(go_signal.task_go(result), request_path(result))


class KubernetesExecutor:
    kind = "kubernetes"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.namespace = settings.job_namespace
        # The cluster schedules Jobs; this only bounds what one operator submits at once.
        self.max_workers = settings.max_workers
        # Job name -> (tenant namespace, run): what release_run must forget.
        self._running: dict[str, tuple[str, str]] = {}
        self.files = filewatch.ResultWatch(settings.data_dir / "results")
        # Job name -> when its Job and Pod were last read, and what they said.
        self._checked: dict[str, tuple[float, WorkerStatus]] = {}
        # Jobs created ahead of their task, their Pods waiting for the go signal; the
        # verification runner (verification.py) keeps its own in the same room.
        self.room = prestart.Room(
            settings.max_workers if settings.max_prestarted is None else settings.max_prestarted
        )
        # Lost nodes (executor/nodes.py): their attempts are lost, new Pods keep off them.
        self.nodes = nodes.health(settings.node_lost_seconds)
        # The nodes' room for sandbox Pods (executor/noderoom.py): a Pod is created only
        # where it fits; Jobs ahead only in room the free worker slots will not need.
        self.node_room = noderoom.NodeRoom(
            settings,
            avoid=self.nodes.to_avoid,
            slots_free=lambda: max(self.max_workers - self.active, 0),
        )

    @property
    def active(self) -> int:
        return len(self._running)

    def _create(self, job: dict[str, Any]) -> None:
        client.BatchV1Api().create_namespaced_job(self.namespace, job)  # type: ignore[arg-type]

    def has_capacity(self) -> bool:
        return self.active < self.max_workers

    async def prestart(self, request: WorkerRequest, owner: dict[str, Any]) -> bool:
        """Create the attempt's Job now, its Pod to wait for the go signal that start()
        gives; False when the room for waiting Pods is full (or prestart is off)."""
        avoid = await asyncio.to_thread(self.nodes.to_avoid)
        job = build_job(request, owner, self.settings, avoid)
        name = job["metadata"]["name"]
        if self.room.holds(name) or name in self._running:
            return True
        if not self.room.free():
            return False
        await asyncio.to_thread(self.node_room.refresh)
        refused = self.node_room.claim(name, ahead=True)
        if refused is not None:
            log.debug("no Job ahead of %s: %s", request.task_id, refused)
            return False
        job["metadata"]["labels"][prestart.LABEL_START] = prestart.PRESTARTED
        self.room.take(
            name,
            request.namespace,
            request.run,
            deadline_seconds=self.settings.task_deadline_seconds,
        )
        try:
            await asyncio.to_thread(_prepare, request, self.settings)
            await asyncio.to_thread(self._create, job)
        except ApiException as exc:
            if exc.status != 409:
                self.room.release(name)
                self.node_room.drop(name)
                raise
        except BaseException:
            self.room.release(name)
            self.node_room.drop(name)
            raise
        log.info(
            "created Job %s ahead of %s",
            name,
            request.task_id,
            extra={**request.log_fields(), "job": name},
        )
        return True

    async def room_to_start(self, namespace: str, task_cr: str, attempt: int) -> str | None:
        """None when the attempt's worker may start now: its Job waits already, or a
        place on the nodes is taken for its Pod (or the room cannot be read); else what
        room is missing, and the newest Job created ahead is given up for it."""
        name = job_name(namespace, task_cr, attempt)
        if self.room.holds(name) or name in self._running:
            return None
        await asyncio.to_thread(self.node_room.refresh)
        missing = self.node_room.claim(name)
        if missing is not None:
            await prestart.discard_for_room(self.room, self.node_room, self.namespace)
        return missing

    async def discard(self, request: WorkerRequest, owner: dict[str, Any]) -> None:
        """The task will not start after all (cancelled, failed, taken over): remove the
        Job created ahead of it, with its waiting Pod."""
        name = job_name(request.namespace, owner["metadata"]["name"], request.attempt)
        self.room.release(name)
        await self._delete(ExecutorRef(kind="kubernetes", name=name), "Background")

    async def adopt_prestarted(self, namespace: str, run: str) -> dict[str, str]:
        """After a restart: the run's Jobs created ahead (Task name -> Job name), back in
        the room; the caller discards those its tasks no longer need."""
        selector = (
            f"{jobspec.run_selector(namespace, run)},{jobspec.LABEL_ROLE}=worker,"
            f"{prestart.LABEL_START}={prestart.PRESTARTED}"
        )
        jobs: Any = await asyncio.to_thread(
            client.BatchV1Api().list_namespaced_job, self.namespace, label_selector=selector
        )
        found: dict[str, str] = {}
        for job in jobs.items:
            name = job.metadata.name
            task = (job.metadata.annotations or {}).get("prazium.io/task-name")
            if not task or name in self._running:
                continue
            created = job.metadata.creation_timestamp
            self.room.take(
                name,
                namespace,
                run,
                created.timestamp() if created else None,
                deadline_seconds=self.settings.task_deadline_seconds,
                active_seconds=job.spec.active_deadline_seconds,
            )
            found[task] = name
        return found

    async def start(self, request: WorkerRequest, owner: dict[str, Any]) -> ExecutorRef:
        avoid = await asyncio.to_thread(self.nodes.to_avoid)
        job = build_job(request, owner, self.settings, avoid)
        name = job["metadata"]["name"]
        waited = self.room.release(name)
        await asyncio.to_thread(
            functools.partial(_write_request, request, self.settings, prepared=waited is not None)
        )
        created = waited.created if waited is not None else None
        if waited is None:
            self.node_room.record(name)
            try:
                await asyncio.to_thread(self._create, job)
            except ApiException as exc:
                if exc.status != 409:  # the same attempt already submitted: adopt it
                    self.node_room.drop(name)
                    raise
                created = 0.0  # its creation time is read with it below
        self._running[name] = (request.namespace, request.run)
        log.info(
            "%s Job %s for %s",
            "started" if waited is not None else "submitted",
            name,
            request.task_id,
            extra={**request.log_fields(), "job": name},
        )
        if created is not None:
            # It may have waited long for its go signal: its deadline counts from now.
            await self._extend_deadline(name, created)
        # The Task's status.executor holds kind, name and, once state() has seen it, the
        # Pod (null here: a retry's new Job has no Pod yet). The namespace is always
        # the configured job namespace (changing it orphans running Jobs to their TTL;
        # their tasks are retried as lost).
        return ExecutorRef(kind="kubernetes", name=name, pod=None)

    async def _extend_deadline(self, name: str, created: float) -> None:
        batch = client.BatchV1Api()
        try:
            if not created:
                job: Any = await asyncio.to_thread(batch.read_namespaced_job, name, self.namespace)
                created = job.metadata.creation_timestamp.timestamp()
            deadline = prestart.extended_deadline(self.settings.task_deadline_seconds, created)
            await asyncio.to_thread(
                batch.patch_namespaced_job,
                name,
                self.namespace,
                {"spec": {"activeDeadlineSeconds": deadline}},
            )
        except ApiException as exc:
            # The Job is gone (state() reports the attempt lost) or the apiserver
            # refused: the deadline it was created with stands.
            log.warning("could not extend the deadline of Job %s: %s", name, exc.reason)

    async def state(self, ref: ExecutorRef, request: WorkerRequest) -> WorkerStatus:
        if read_result(Path(request.result_path)) is not None:
            self._running.pop(str(ref.name), None)
            self._checked.pop(str(ref.name), None)
            # A worker can finish before the first look at its Pod (a Pod created ahead
            # starts at once): the Task still names the Pod that ran it.
            learnt = ExecutorRef() if ref.pod or not ref.name else await self._pod_of(ref.name)
            return WorkerStatus(WorkerState.EXITED, learnt=learnt)
        name = ref.name
        if not name:
            return WorkerStatus(WorkerState.LOST, message="no Job was recorded")
        last = self._checked.get(name)
        if last is not None and time.monotonic() - last[0] < JOB_CHECK_SECONDS:
            return last[1]
        status = await self._job_state(name, request)
        if status.state is WorkerState.RUNNING:
            self._checked[name] = (time.monotonic(), status)
        else:
            self._checked.pop(name, None)
        return status

    async def _pod_of(self, name: str) -> ExecutorRef:
        """The Pod of Job name, if the apiserver still has one."""
        try:
            pod = await self._newest_pod(name)
        except ApiException:
            return ExecutorRef()
        return ExecutorRef() if pod is None else ExecutorRef(pod=pod.metadata.name)

    async def _newest_pod(self, name: str, *, fresh: bool = False) -> Any:
        """Job name's newest Pod not being deleted (else its newest), or None: as
        watched, or read from the apiserver when fresh or not watched yet."""
        pods = await jobwatch.pods_of(self.namespace, name, fresh=fresh)
        live = [p for p in pods if not p.metadata.deletion_timestamp] or pods
        return max(live, key=lambda p: p.metadata.creation_timestamp) if live else None

    async def _job_state(self, name: str, request: WorkerRequest) -> WorkerStatus:
        # The Job object carries its status: as watched, else read (a Job created a
        # moment ago, or one that is gone).
        job: Any = jobwatch.of(self.namespace).job(name)
        if job is None:
            try:
                job = await asyncio.to_thread(cachedreads.read_job, self.namespace, name)
            except ApiException as exc:
                if exc.status == 404:
                    self._running.pop(name, None)
                    return WorkerStatus(WorkerState.LOST, message=f"Job {name} is gone")
                raise
        self._running[name] = (request.namespace, request.run)
        ended = _job_ended(job)
        if ended is not None:
            self._running.pop(name, None)
            # A result may have landed between the two reads.
            if read_result(Path(request.result_path)) is not None:
                return WorkerStatus(WorkerState.EXITED)
            reason, message = ended
            # The Pod read fresh: its watch may not have delivered its exit yet.
            if reason != "DeadlineExceeded" and _stopped_by_policy_gate(
                await self._newest_pod(name, fresh=True)
            ):
                # Its code never ran: lost, so the attempt is tried again in a new Pod.
                return WorkerStatus(
                    WorkerState.LOST,
                    message=policy_gate.not_enforced_message(
                        self.settings.worker_policy_gate_seconds
                    ),
                )
            if reason == "DeadlineExceeded":
                return WorkerStatus(
                    WorkerState.FAILED,
                    message=(
                        f"Job {name} ran past its deadline of "
                        f"{job.spec.active_deadline_seconds} s (DeadlineExceeded)"
                    ),
                )
            # Finished without a result file: the Pod died (deleted, OOM, evicted).
            return WorkerStatus(WorkerState.LOST, message=f"Job {name}: {reason}: {message}")
        pod = await self._newest_pod(name)
        if pod is None:
            return WorkerStatus(WorkerState.RUNNING, message=f"Job {name}: waiting for its Pod")
        node = (pod.spec.node_name if pod.spec else None) or ""
        why = await asyncio.to_thread(self.nodes.why_lost, node)
        if why is not None:
            # Its kubelet cannot stop it or say how it ended: the attempt is lost, its
            # next one runs on another node (release deletes this Job).
            self._running.pop(name, None)
            return WorkerStatus(
                WorkerState.LOST,
                learnt=ExecutorRef(pod=pod.metadata.name),
                message=f"Job {name}: its Pod {pod.metadata.name} was on a lost node: {why}",
            )
        return WorkerStatus(
            WorkerState.RUNNING,
            learnt=ExecutorRef(pod=pod.metadata.name),
            message=_pod_progress(pod, request.attempt),
        )

    async def _delete(self, ref: ExecutorRef, policy: str) -> None:
        name = ref.name
        if not name:
            return
        try:
            await asyncio.to_thread(
                client.BatchV1Api().delete_namespaced_job,
                name,
                self.namespace,
                body=client.V1DeleteOptions(propagation_policy=policy, grace_period_seconds=0),
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
        self._running.pop(name, None)
        self._checked.pop(name, None)
        self.node_room.drop(name)

    async def stop(self, ref: ExecutorRef, request: WorkerRequest) -> None:
        log.info(
            "deleting Job %s of %s",
            ref.name,
            request.task_id,
            extra={**request.log_fields(), "job": ref.name},
        )
        await self._delete(ref, "Foreground")

    async def release(self, ref: ExecutorRef, request: WorkerRequest) -> None:
        # The result is read (or the worker is lost): the Job has nothing more to say.
        await self._delete(ref, "Background")

    async def release_run(self, namespace: str, run: str) -> None:
        """Delete every Job of the Run, whatever state the operator remembers (idempotent)."""
        try:
            await asyncio.to_thread(
                client.BatchV1Api().delete_collection_namespaced_job,
                self.namespace,
                label_selector=jobspec.run_selector(namespace, run),
                propagation_policy="Background",
                grace_period_seconds=0,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
        for name, owner in list(self._running.items()):
            if owner == (namespace, run):
                del self._running[name]
        self.room.forget_run(namespace, run)

    async def wait_for_exit(self, timeout: float) -> None:
        # A worker's event or result file appearing ends the wait (filewatch.py); Job
        # status is polled.
        await self.files.wait(timeout)

    async def shutdown(self) -> None:
        await self.files.stop()
        jobwatch.stop_all()
        self._running.clear()
        self._checked.clear()
        self.room.clear()


def _job_ended(job: Any) -> tuple[str, str] | None:
    """(reason, message) of a Job's Failed or Complete condition, None while it runs.
    FailureTarget comes first; Failed only once its Pods are gone."""
    for cond in (job.status.conditions if job.status else None) or []:
        if cond.type in ("Failed", "Complete") and cond.status == "True":
            return str(cond.reason or cond.type), str(cond.message or "")
    return None


def _stopped_by_policy_gate(pod: Any) -> bool:
    """Whether the worker's container exited as the policy gate does when the Pod's
    network policy was not in force (worker/waiting.py: before anything ran)."""
    statuses = (pod.status.container_statuses if pod is not None and pod.status else None) or []
    for status in statuses:
        ended = status.state.terminated if status.state else None
        if ended is not None and ended.exit_code == policy_gate.EXIT_NOT_ENFORCED:
            return True
    return False


def _pod_progress(pod: Any, attempt: int) -> str:
    """The Task's message for a worker Pod: running, or why it waits (no node can take
    it, its image, ...)."""
    name = pod.metadata.name
    phase = pod.status.phase if pod.status else None
    if phase == "Running":
        return f"attempt {attempt}: running in Pod {name}"
    for cond in (pod.status.conditions if pod.status else None) or []:
        if cond.type == "PodScheduled" and cond.status == "False":
            return (
                f"attempt {attempt}: waiting for a node for Pod {name}: "
                f"{cond.message or cond.reason}"
            )
    for container in (pod.status.container_statuses if pod.status else None) or []:
        waiting = container.state.waiting if container.state else None
        if waiting and waiting.reason:
            detail = f": {waiting.message}" if waiting.message else ""
            return f"attempt {attempt}: Pod {name} waiting ({waiting.reason}{detail})"
    return f"attempt {attempt}: Pod {name} {str(phase or 'Pending').lower()}"
