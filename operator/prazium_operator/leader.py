"""Leader election between operator processes on a coordination.k8s.io Lease.

A process that is not the leader waits in :meth:`LeaderElection.acquire` before kopf
starts, so a standby does nothing at all (no watch, no handler, no daemon). The
leader renews the Lease every ``renew`` seconds from a thread of its own (the event
loop's load cannot delay it). A standby takes the Lease over once it has seen the
same Lease version for ``duration`` seconds on its own clock: no clock comparison
between machines, and while the apiserver cannot be read the standby's observation
starts over, so after an apiserver outage the leader (renewing again) keeps its
place. A leader that finds the Lease held by another process exits at once; its
workers live on and the new leader adopts them, as after an operator restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_operator import retrying
from prazium_operator.settings import Settings

log = logging.getLogger("prazium.leader")
POLL_SECONDS = 1.0


class LeaderElection:
    def __init__(self, settings: Settings) -> None:
        self.name = settings.leader_lease_name
        self.namespace = settings.leader_lease_namespace or settings.job_namespace
        self.duration = settings.leader_lease_seconds
        self.renew = max(self.duration / 4, 0.5)
        self.identity = f"{socket.gethostname()}-{os.getpid()}"
        self.api = client.CoordinationV1Api()

    def acquire(self) -> None:
        """Block until this process holds the Lease."""
        observed: tuple[str, float] | None = None  # (lease version, first seen at)
        waiting_logged = False
        while True:
            try:
                lease = self._read()
                if lease is None:
                    if self._create():
                        break
                    continue
                holder = lease.spec.holder_identity if lease.spec else None
                version = str(lease.metadata.resource_version if lease.metadata else "")
                if observed is None or observed[0] != version:
                    observed = (version, time.monotonic())
                expired = time.monotonic() - observed[1] >= self.duration
                if (holder in (None, "", self.identity) or expired) and self._take(lease):
                    break
                if not waiting_logged:
                    log.info(
                        "standby: lease %s/%s is held by %s", self.namespace, self.name, holder
                    )
                    waiting_logged = True
            except Exception as exc:
                if not retrying.apiserver_outage(exc):
                    raise
                observed = None  # unseen time does not count towards expiry
            time.sleep(POLL_SECONDS)
        log.info("leader: acquired lease %s/%s as %s", self.namespace, self.name, self.identity)

    def keep_renewing(self) -> threading.Thread:
        thread = threading.Thread(target=self._renew_forever, name="prazium-lease", daemon=True)
        thread.start()
        return thread

    def _renew_forever(self) -> None:
        while True:
            time.sleep(self.renew)
            try:
                lease = self._read()
                holder = lease.spec.holder_identity if lease and lease.spec else None
                if holder != self.identity:
                    log.error(
                        "leader: lease %s/%s is now held by %s; exiting",
                        self.namespace,
                        self.name,
                        holder,
                    )
                    logging.shutdown()
                    os._exit(1)  # no cleanup: the new leader adopts what runs
                assert lease is not None and lease.spec is not None
                lease.spec.renew_time = _now()
                self.api.replace_namespaced_lease(self.name, self.namespace, lease)
            except Exception as exc:  # an outage or a race: try again next round
                log.warning("leader: renewing lease failed: %s", exc)

    def _read(self) -> client.V1Lease | None:
        try:
            return self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _spec(self, transitions: int) -> client.V1LeaseSpec:
        now = _now()
        return client.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=int(self.duration),
            acquire_time=now,
            renew_time=now,
            lease_transitions=transitions,
        )

    def _create(self) -> bool:
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=self._spec(0),
        )
        try:
            self.api.create_namespaced_lease(self.namespace, body)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def _take(self, lease: client.V1Lease) -> bool:
        """Replace the Lease guarded by its version: of two standbys one wins."""
        previous = lease.spec.lease_transitions if lease.spec else None
        lease.spec = self._spec((previous or 0) + 1)
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
