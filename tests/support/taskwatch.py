"""Every status message a namespace's Tasks had while a test ran, from a watch (a poll
could miss a message that lasted less than its interval)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kubernetes import client, watch

GROUP, VERSION = "prazium.io", "v1alpha1"


@dataclass
class TaskMessages:
    namespace: str
    seen: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> TaskMessages:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

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
