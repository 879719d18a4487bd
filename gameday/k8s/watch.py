"""What the cluster did to the lab's pods, as it did it: a watch on the run's namespace (the ``kubernetes``
client's ``Watch``) for the target's whole session.

For each pod it records when it was created, scheduled, had its container running, became ready or not, had its
container restarted by the kubelet, went into ``CrashLoopBackOff``, began to be deleted and was gone; and for each
Deployment, when it was back at its wanted number of ready replicas. Times are this machine's monotonic clock
when the event arrived (the API server's own timestamps are whole seconds). A drill's recovery keeps these
steps in its journal, and a service's ``t_mitigated`` on the k8s target is when its Deployment was back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gameday.k8s.workloads import Access, Cluster, KubeconfigAccess, Ref


@dataclass
class _Seen:
    app: str
    scheduled: bool = False
    running: bool = False
    ready: bool = False
    restarts: int = 0
    waiting: str = ""
    deleting: bool = False


@dataclass
class PodWatch:
    access: Access | KubeconfigAccess
    namespace: str
    refs: dict[str, Ref] = field(default_factory=dict)
    """The workloads watched, by service (the lab's are known by their ``app`` label)."""
    steps: list[tuple[float, str, str]] = field(default_factory=list)
    """(monotonic time, app, what happened)"""
    back_at: dict[str, float] = field(default_factory=dict)
    """app -> when its Deployment last got back to its wanted ready replicas"""
    _pods: dict[str, _Seen] = field(default_factory=dict)
    _full: dict[str, bool] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _watch: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> PodWatch:
        self.api = Cluster(self.access, self.namespace, self.refs)
        self._thread = threading.Thread(target=self._run, name="k8s-pod-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        if self._thread is not None:
            self._thread.join(2)
        self.api.close()

    def steps_since(self, app: str, since: float) -> list[tuple[float, str]]:
        with self._lock:
            return [(t, text) for t, a, text in self.steps if a == app and t >= since]

    def _run(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            self._watch = watch.Watch()
            try:
                for event in self._watch.stream(self.api.core.list_namespaced_pod, self.namespace,
                                                timeout_seconds=30, _request_timeout=40):
                    self._seen(event["type"], event["object"])
                    if self._stop.is_set():
                        break
            except Exception:  # noqa: BLE001 - the API server restarted or went: look again while the session runs
                self._stop.wait(0.5)

    def _say(self, app: str, text: str) -> None:
        with self._lock:
            self.steps.append((time.monotonic(), app, text))

    def _seen(self, kind: str, pod: Any) -> None:
        app = self.api.app_of(pod.metadata.labels)
        name = pod.metadata.name
        if not app:
            return
        seen = self._pods.get(name)
        if seen is None:
            seen = self._pods[name] = _Seen(app)
            self._say(app, f"pod {name} created")
        if kind == "DELETED":
            self._pods.pop(name, None)
            self._say(app, f"pod {name} gone")
            self._count(app)
            return
        status = pod.status
        scheduled = any(c.type == "PodScheduled" and c.status == "True" for c in status.conditions or [])
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])
        wanted_name = self.api.container_name(app, pod)
        container = next((c for c in status.container_statuses or [] if c.name == wanted_name), None)
        running = bool(container and container.state.running)
        waiting = (container.state.waiting.reason or "") if container and container.state.waiting else ""
        restarts = container.restart_count if container else 0
        if scheduled and not seen.scheduled:
            self._say(app, f"pod {name} scheduled on {pod.spec.node_name}")
        if restarts > seen.restarts:
            self._say(app, f"pod {name}: the kubelet restarted its container (restart count {restarts})")
        if running and not seen.running:
            self._say(app, f"pod {name}: container running")
        if waiting and waiting != seen.waiting:
            self._say(app, f"pod {name}: container waiting ({waiting})")
        if ready != seen.ready:
            self._say(app, f"pod {name} {'ready' if ready else 'not ready'}")
        if pod.metadata.deletion_timestamp is not None and not seen.deleting:
            self._say(app, f"pod {name} being deleted")
        seen.scheduled, seen.running, seen.ready, seen.restarts, seen.waiting = (
            scheduled, running, ready, restarts, waiting)
        seen.deleting = pod.metadata.deletion_timestamp is not None
        self._count(app)

    def _count(self, app: str) -> None:
        """Whether the app's Deployment is (back) at its wanted ready replicas, counting pods not being deleted."""
        ready = sum(1 for s in self._pods.values() if s.app == app and s.ready and not s.deleting)
        wanted = 0
        with contextlib.suppress(Exception):
            wanted = self.api.ready_replicas(app)[1]
        full = wanted > 0 and ready >= wanted
        if full and not self._full.get(app, False):
            now = time.monotonic()
            self.back_at[app] = now
            self._say(app, f"{self.api.ref(app).kind} {self.api.ref(app).name} back at {ready}/{wanted} ready "
                           "replica(s)")
        self._full[app] = full
