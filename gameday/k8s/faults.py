"""Faults on the lab's Kubernetes workloads, through the API server (and, for a crash, the node's runtime):

- container crash (``kill-service``): SIGKILL to the container's main process from the host, found through the
  cluster's containerd; the kubelet counts that as a crash and restarts the container (its restart count goes
  up), after the back-off the fault leaves in the pod's ``/run/gameday``;
- scale to zero (``stop-service``): the Deployment's replicas set to 0, and back to what they were on revert;
- pod deletion (``pod-delete``): a count or a share of the Deployment's pods deleted, grace period 0 by default;
  its ReplicaSet replaces them, and the revert waits for the replicas to be ready;
- a bad rollout (``bad-rollout``): a pod template whose command cannot start, put back on revert;
- a node drained (``node-drain``): cordoned and the run's pods on it evicted, uncordoned on revert;
- CPU and memory stress (``cpu-stress``, ``memory-stress``): stress-ng by exec in the service's container, where
  its image has it, ended on revert.

Each is in the ledger with the API server, its CA and the file of its token (never the token), the workload and
what reverting takes, so the watchdog can revert it while the harness is stalled (``revert_left``). A run that
dies outright takes its cluster with it (the cluster's guard), and then nothing is left to revert.
"""

from __future__ import annotations

import math
import os
import signal
from typing import Any

from gameday.core.errors import HarnessError, InjectionError
from gameday.faults.base import Fault, wait_until
from gameday.faults.ledger import Ledger
from gameday.k8s.workloads import Access, Cluster, Ref
from gameday.target.protocol import FaultKinds

READY_WITHIN = 30.0
"""Seconds a revert waits for the workload to be back at its wanted ready replicas."""


def api_refusal(exc: BaseException) -> str | None:
    """One line for the API server refusing a call or not answering; None for anything else."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(exc, ApiException):
        return f"the API server answered {exc.status} {exc.reason}"
    if isinstance(exc, HTTPError | OSError):
        return f"the API server did not answer ({type(exc).__name__})"
    return None


class WorkloadFault(Fault):
    """A fault on one Deployment of the run's namespace; the watchdog reverts it should the harness stall."""

    outlives_harness = True
    reverter = "k8s-workload"
    revert_action = ""

    def __init__(self, stack: Any, service: str, ledger: Ledger | None = None) -> None:
        super().__init__(service, ledger)
        self.stack = stack
        self.api: Cluster = stack.api
        try:
            self.replicas = self.api.ready_replicas(service)[1]
        except Exception as exc:
            why = api_refusal(exc)
            if why is None:
                raise
            raise HarnessError(f"{self.describe()}: {why} for its {self.api.ref(service).kind}") from None

    def detail(self) -> dict[str, Any]:
        return {"namespace": self.api.namespace, "deployment": self.target, "replicas": self.replicas,
                **self.api.access.as_detail(), **self.api.ref(self.target).as_detail(), "revert": self.revert_action}

    def inject(self) -> float:
        try:
            return super().inject()
        except InjectionError:
            raise
        except Exception as exc:
            if (why := api_refusal(exc)) is None:
                raise
            raise InjectionError(f"{self.describe()}: {why}") from None

    def _undo(self) -> None:
        self.undone = put_back(self.api, self.detail())
        """What the revert did and checked."""

    def recovery_steps(self) -> list[tuple[float, str]]:
        watch = getattr(self.stack, "watch", None)
        return [] if watch is None or self.injected_at is None else watch.steps_since(self.target, self.injected_at)


def put_back(api: Cluster, detail: dict[str, Any]) -> str:
    """Undo what a ledger entry's detail says was changed, in order: the node made schedulable again
    (``node``), the pod template the Deployment had (``template``), its replicas, ready. What was done."""
    from kubernetes.client import ApiClient

    app, done = str(detail["deployment"]), []
    if detail.get("stress") and api.pods(app):  # a pod that is gone took its stress-ng with it
        done.append(end_stress(api, app))
    if detail.get("node"):
        node = api.core.read_node(detail["node"])
        if node.spec.unschedulable:
            api.core.patch_node(detail["node"], {"spec": {"unschedulable": False}})
            done.append(f"uncordoned node {detail['node']}")
    if detail.get("template"):
        current = ApiClient().sanitize_for_serialization(api.workload(app).spec.template)
        if current.get("spec") != detail["template"].get("spec"):
            api.patch_template(app, detail["template"], "application/merge-patch+json")
            done.append(f"put {app}'s pod template back")
    done.append(back_to_replicas(api, app, int(detail["replicas"]), rolled=bool(detail.get("template"))))
    if detail.get("node"):  # a drain evicted the namespace's other pods too: each of their Deployments, ready
        for other in api.apps.list_namespaced_deployment(api.namespace).items:
            name = other.metadata.name
            if name != app and not api.wait_ready(name, READY_WITHIN):
                raise InjectionError(f"{name}: not ready {READY_WITHIN:g}s after node {detail['node']} was "
                                     "uncordoned")
            if name != app:
                done.append(f"{name} ready again")
    return "; ".join(done)


def back_to_replicas(api: Cluster, app: str, replicas: int, rolled: bool = False) -> str:
    """Put the Deployment back at ``replicas`` and wait until that many are ready. A pod whose container the
    kubelet holds in its restart back-off is deleted, so the Deployment makes a fresh one. What was done."""
    done = []
    if api.ref(app).kind and api.ready_replicas(app)[1] != replicas:
        api.scale(app, replicas)
        done.append(f"scaled {app} back to {replicas}")
    if rolled and not api.wait_rolled_out(app, READY_WITHIN):
        raise InjectionError(f"{app}: its rollout back to the previous template did not finish within "
                             f"{READY_WITHIN:g}s")
    if not api.wait_ready(app, READY_WITHIN / 2):
        for pod in api.pods(app):
            api.core.delete_namespaced_pod(pod.metadata.name, api.namespace, grace_period_seconds=0)
            done.append(f"deleted pod {pod.metadata.name}, which was not ready")
        if not api.wait_ready(app, READY_WITHIN / 2):
            ready, wanted = api.ready_replicas(app)
            raise InjectionError(f"{app}: {ready} of {wanted} replicas ready {READY_WITHIN:g}s into the revert")
    return "; ".join(done) or f"{app} was back at {replicas} ready replica(s)"


class CrashContainer(WorkloadFault):
    """SIGKILL the main process of the service's container; the kubelet restarts it after the back-off."""

    kind = "kill-service"
    revert_action = "wait for the Deployment's replicas to be ready, deleting a pod held in its restart back-off"

    def __init__(self, stack: Any, service: str, down_for: float | None = None, ledger: Ledger | None = None) -> None:
        super().__init__(stack, service, ledger)
        self.down_for = down_for
        self.restarts_before: int | None = None

    def _apply(self) -> None:
        st = self.api.container_status(self.target)
        if st is None or st.state.running is None or not st.container_id:
            raise InjectionError(f"kill-service {self.target}: its container is not running")
        cid = st.container_id.split("://", 1)[-1]
        pid = self._pid(cid)
        if self.down_for is not None:  # the back-off of this one restart, read by the container's entrypoint
            write = f"echo {self.down_for:.3f} > /run/gameday/restart-delay"
            code, out = self.api.exec(self.target, ["sh", "-c", write])
            if code != 0:
                raise InjectionError(f"kill-service {self.target}: could not set the restart back-off: {out[:200]}")
        self.restarts_before = st.restart_count
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            raise InjectionError(f"kill-service {self.target}: pid {pid} vanished before the kill") from None
        self._stamp()
        if not wait_until(self._crashed, 10, 0.1):
            raise InjectionError(f"kill-service {self.target}: the kubelet saw no crash within 10s of SIGKILL")

    def _pid(self, cid: str) -> int:
        """The host pid of the container's main process, from the cluster's containerd."""
        listed = self.stack.cluster.ctr("tasks", "list").stdout.splitlines()
        for line in listed[1:]:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == cid and parts[1].isdigit():
                return int(parts[1])
        raise InjectionError(f"kill-service {self.target}: containerd lists no task for container {cid[:12]}")

    def _crashed(self) -> bool:
        st = self.api.container_status(self.target)
        return st is None or st.restart_count > (self.restarts_before or 0) or st.state.running is None


class ScaleToZero(WorkloadFault):
    """The Deployment scaled to zero replicas: every pod of the service ends."""

    kind = "stop-service"
    revert_action = "scale the Deployment back to its replicas and wait for them to be ready"

    def _apply(self) -> None:
        if self.replicas < 1:
            raise InjectionError(f"stop-service {self.target}: its Deployment already has 0 replicas")
        self._stamp()
        self.api.scale(self.target, 0)
        # every pod being deleted: none is an endpoint any more (waiting for them to be gone kept the drill from
        # watching for the page for the seconds a pod takes to end)
        if not wait_until(lambda: not self.api.pods(self.target), 60, 0.1):
            raise InjectionError(f"stop-service {self.target}: pods not being deleted 60s after scaling to zero")


class DeletePods(WorkloadFault):
    """Some of the Deployment's pods deleted (grace period 0 by default: a crash of the pod, not a drain); its
    ReplicaSet makes new ones."""

    kind = "pod-delete"
    revert_action = "wait for the Deployment's replicas to be ready"

    def __init__(self, stack: Any, service: str, count: int | None = 1, percent: float | None = None,
                 grace: int = 0, ledger: Ledger | None = None) -> None:
        super().__init__(stack, service, ledger)
        self.count, self.percent, self.grace = count, percent, grace
        self.deleted: list[str] = []

    def describe(self) -> str:
        how = f"{self.percent:g}% of" if self.percent is not None else f"{self.count} of"
        return f"pod-delete {how} {self.target}'s pods"

    def _apply(self) -> None:
        pods = self.api.pods(self.target)
        if not pods:
            raise InjectionError(f"{self.describe()}: it has no pod")
        n = math.ceil(len(pods) * self.percent / 100) if self.percent is not None else int(self.count or 1)
        chosen = pods[:max(1, min(n, len(pods)))]  # the oldest first
        self._stamp()
        for pod in chosen:
            self.api.core.delete_namespaced_pod(pod.metadata.name, self.api.namespace,
                                                grace_period_seconds=self.grace)
            self.deleted.append(pod.metadata.name)
        if not wait_until(lambda: not {p.metadata.name for p in self.api.pods(self.target)} & set(self.deleted),
                          10, 0.1):
            raise InjectionError(f"{self.describe()}: {', '.join(self.deleted)} still there 10s after the delete")


class BadRollout(WorkloadFault):
    """A rollout whose new pods cannot start (their command exits at once): the Deployment's new ReplicaSet
    crash-loops while its rolling update keeps the old pod serving. The revert puts the template back (what
    ``kubectl rollout undo`` does) and waits for the rollout to finish."""

    kind = "bad-rollout"
    revert_action = "put the Deployment's pod template back and wait for its rollout to finish"

    def __init__(self, stack: Any, service: str, ledger: Ledger | None = None) -> None:
        from kubernetes.client import ApiClient

        super().__init__(stack, service, ledger)
        self.template = ApiClient().sanitize_for_serialization(self.api.workload(service).spec.template)

    def detail(self) -> dict[str, Any]:
        return super().detail() | {"template": self.template}

    def _apply(self) -> None:
        name = self.api.ref(self.target).container or self.template["spec"]["containers"][0]["name"]
        before = {p.metadata.name for p in self.api.pods(self.target)}
        self._stamp()
        broken = {"name": name, "command": ["sh", "-c", "echo gameday: a release that cannot start; exit 3"]}
        self.api.patch_template(self.target, {"spec": {"containers": [broken]}},  # merged by container name: only
                                "application/strategic-merge-patch+json")  # the command changes
        if not wait_until(lambda: any(p.metadata.name not in before for p in self.api.pods(self.target)), 10, 0.1):
            raise InjectionError(f"bad-rollout {self.target}: no new pod 10s after the new template")


class NodeDrain(WorkloadFault):
    """The node of the service's pod cordoned, and the run's pods on it evicted: on a one-node cluster nothing
    can take them, so they wait, Pending, until the revert uncordons the node. Pods of other namespaces (the
    cluster's own) are never evicted."""

    kind = "node-drain"
    revert_action = "uncordon the node and wait for the Deployment's replicas to be ready"

    def __init__(self, stack: Any, service: str, ledger: Ledger | None = None) -> None:
        super().__init__(stack, service, ledger)
        pods = self.api.pods(service)
        self.node = pods[-1].spec.node_name if pods and pods[-1].spec.node_name else ""
        self.evicted: list[str] = []

    def detail(self) -> dict[str, Any]:
        return super().detail() | {"node": self.node}

    def _apply(self) -> None:
        if not self.node:
            raise InjectionError(f"node-drain {self.target}: its pod is on no node yet")
        self._stamp()
        self.api.core.patch_node(self.node, {"spec": {"unschedulable": True}})
        for pod in self.api.core.list_namespaced_pod(self.api.namespace).items:
            if pod.spec.node_name == self.node and pod.metadata.deletion_timestamp is None:
                self.api.core.create_namespaced_pod_eviction(pod.metadata.name, self.api.namespace, {
                    "apiVersion": "policy/v1beta1", "kind": "Eviction",
                    "metadata": {"name": pod.metadata.name, "namespace": self.api.namespace}})
                self.evicted.append(pod.metadata.name)
        if not wait_until(lambda: not self.stack.is_running(self.target), 15, 0.1):
            raise InjectionError(f"node-drain {self.target}: still running 15s after the drain")


LIVE_STRESS = ("n=0; for p in $(pgrep stress-ng); do s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); "
               "case \"$s\" in ''|Z) ;; *) n=$((n+1)) ;; esac; done; echo $n")
"""Shell: how many stress-ng processes in the container are alive (a zombie, ended but not reaped, is not)."""

STRESS_BOUND = 900
"""Seconds a stress-ng started in a pod runs at most, whatever happens to the harness (its ``--timeout``)."""


class StressInPod(WorkloadFault):
    """stress-ng run in the service's container by exec through the API server (so it counts against the pod's
    own limits), where the image has it; refused with the reason where it does not. Reverted by ending every
    stress-ng in the container, checked by exec; bounded by ``STRESS_BOUND`` in any case."""

    revert_action = "end every stress-ng in the service's container (checked by exec)"

    def __init__(self, stack: Any, service: str, kind: str, args: list[str], ledger: Ledger | None = None) -> None:
        super().__init__(stack, service, ledger)
        self.kind, self.args = kind, args

    def detail(self) -> dict[str, Any]:
        return super().detail() | {"stress": True}

    def _apply(self) -> None:
        code, out = self.api.exec(self.target, ["sh", "-c", "command -v stress-ng"])
        if code != 0:
            why = out.strip()[:100] or f"exit {code}"
            raise InjectionError(f"{self.kind} {self.target}: its image has no stress-ng ({why}): stress by exec "
                                 "needs it in the service's own container")
        argv = " ".join(["stress-ng", *self.args, "--timeout", f"{STRESS_BOUND}s"])
        self._stamp()
        code, out = self.api.exec(self.target, ["sh", "-c", f"nohup {argv} >/dev/null 2>&1 & sleep 0.3; "
                                                            f"[ $({LIVE_STRESS}) -gt 0 ]"])
        if code != 0:
            raise InjectionError(f"{self.kind} {self.target}: stress-ng did not start in its container "
                                 f"(exit {code}): {out.strip()[:200]}")


def end_stress(api: Cluster, app: str) -> str:
    """End every stress-ng in ``app``'s containers, checked by exec: none is left but a zombie (one that ended,
    which a container whose first process does not reap keeps in the process table, using no CPU or memory)."""
    code, out = api.exec(app, ["sh", "-c", "pkill stress-ng; for i in 1 2 3 4 5 6 7 8 9 10; do "
                                           f"[ $({LIVE_STRESS}) -eq 0 ] && exit 0; sleep 0.2; done; exit 1"])
    if code != 0:
        raise InjectionError(f"{app}: stress-ng still runs in its container 2s after pkill ({out.strip()[:100]})")
    return f"no stress-ng left in {app}'s container"


def k8s_fault_kinds(stack: Any) -> FaultKinds:
    later = "not on the k8s target yet"
    return FaultKinds(
        builders={
            "kill-service": lambda stk, spec, duration, ledger: CrashContainer(stk, spec.target, duration, ledger),
            "stop-service": lambda stk, spec, duration, ledger: ScaleToZero(stk, spec.target, ledger),
            "pod-delete": lambda stk, spec, duration, ledger: DeletePods(stk, spec.target, spec.count, spec.percent,
                                                                         spec.grace_period, ledger),
            "bad-rollout": lambda stk, spec, duration, ledger: BadRollout(stk, spec.target, ledger),
            "cpu-stress": lambda stk, spec, duration, ledger: StressInPod(
                stk, spec.target, "cpu-stress", ["--cpu", str(spec.workers), "--cpu-load", str(spec.load)], ledger),
            "memory-stress": lambda stk, spec, duration, ledger: StressInPod(
                stk, spec.target, "memory-stress", ["--vm", "1", "--vm-bytes", f"{spec.megabytes}M", "--vm-keep"],
                ledger),
            "node-drain": lambda stk, spec, duration, ledger: NodeDrain(stk, spec.target, ledger),
        },
        missing={"pause-service": "the kubelet cannot pause a container",
                 "packet-loss": later, "latency": later, "network-disconnect": later,
                 "request-failures": "the k8s target has no relay in the gateway's path to its backend"})


def revert_left(entry: dict[str, Any]) -> tuple[str, str]:
    """The reverter ``k8s-workload``: put the Deployment back at its replicas, ready, through the API server the
    entry names; a cluster that no longer answers went with its run, and left nothing."""
    detail = entry.get("detail") or {}
    try:
        app = str(detail["deployment"])
        api = Cluster(Access.of(detail), str(detail["namespace"]), {app: Ref.of(detail, app)})
    except (KeyError, OSError) as exc:
        return "gone", f"the cluster's access files are gone ({type(exc).__name__}): the cluster went with its run"
    except Exception as exc:  # the kubernetes client's ConfigException: a kubeconfig that no longer reads
        if type(exc).__name__ != "ConfigException":
            raise
        return "abandoned", f"the kubeconfig the fault used no longer reads ({exc}): revert it by hand"
    try:
        done = put_back(api, detail)
    except InjectionError as exc:
        return "abandoned", str(exc)
    except Exception as exc:
        why = api_refusal(exc)
        if why is None:
            raise
        return "gone", f"{why}: the cluster went with the run that held the fault, so nothing of it is left"
    finally:
        api.close()
    return "reverted", f"{done} (checked against the API server)"
