"""Every status message a namespace's Tasks had while a test ran, from a watch (a poll
could miss a message that lasted less than its interval); and the thread such
watchers run in, for the node tests' Pod watchers too."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Self

from kubernetes import client, watch

GROUP, VERSION = "prazium.io", "v1alpha1"


class Watching:
    """A watcher whose _loop runs in a thread for the length of a `with` block, until
    self._stop is set."""

    def __enter__(self) -> Self:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        raise NotImplementedError


@dataclass
class TaskMessages(Watching):
    namespace: str
    seen: set[str] = field(default_factory=set)

    def _loop(self) -> None:
        api = client.CustomObjectsApi()
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for item in stream.stream(
                    api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    "tasks",
                    timeout_seconds=2,
                ):
                    message = (item["object"].get("status") or {}).get("message")
                    if message:
                        self.seen.add(str(message))
                    if self._stop.is_set():
                        stream.stop()
            except Exception:  # a watch that broke is started again
                if self._stop.wait(0.1):
                    return
