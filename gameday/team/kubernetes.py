"""The ``kubernetes`` platform: a team's service that is a workload on its own cluster, reached through the
official ``kubernetes`` client with the kubeconfig (or in-cluster service account) its target file names; and the
workload faults of ``gameday.k8s.faults`` that reach it through the API server.

gameday never creates, deletes or reconfigures a team's workload beyond the one fault and its revert, and a fault
reaches only what the file allows: a namespace of ``safety.kubernetes.namespaces`` (never the cluster's own or the
monitoring's unless ``allow_protected`` names it), the pods the service's selector matches, and no more of them
at once than ``max_pods`` (or ``max_percent``). Each bound is one line before any fault. A container crash and a
node drain are not offered here: the first needs the node's runtime, which a team's cluster does not open to the
harness, the second moves every pod on the node, past any bound a target file sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gameday.core.errors import ConfigError, HarnessError
from gameday.k8s.faults import BadRollout, DeletePods, ScaleToZero, StressInPod, api_refusal
from gameday.k8s.watch import PodWatch
from gameday.k8s.workloads import Cluster, KubeconfigAccess, Ref, pod_ready
from gameday.team.model import KubernetesPlatform, KubernetesSafety

K8S_KINDS = ("pod-delete", "stop-service", "bad-rollout", "cpu-stress", "memory-stress")
"""The fault kinds a team's workload takes."""

NOT_ON_WORKLOAD = {
    "kill-service": "a container's main process on a team's node is out of the harness's reach (the node's "
                    "runtime): pod-delete with grace_period 0 is the crash a team's cluster takes",
    "pause-service": "the kubelet cannot pause a container",
    "node-drain": "a drain moves every pod on the node, past any bound a target file sets",
    "packet-loss": "gameday puts nothing in a team's pod network",
    "latency": "gameday puts nothing in a team's pod network",
    "network-disconnect": "gameday puts nothing in a team's pod network",
    "request-failures": "there is no relay in front of a team's pods",
}


@dataclass
class _Handle:
    """What a workload fault needs of its stack: the namespace's API client and the pod watch."""

    api: Cluster
    watch: PodWatch


def pods_bound(safety: KubernetesSafety, pods: int) -> int:
    """The most of a workload's ``pods`` one fault may take down: ``max_pods``, or ``max_percent`` of them where
    that allows more."""
    share = math.floor(pods * safety.max_percent / 100) if safety.max_percent is not None else 0
    return max(safety.max_pods, share)


def down_in_rollout(workload: Any) -> int:
    """How many of a Deployment's serving pods a rollout that never gets ready takes down: all of them with the
    ``Recreate`` strategy, else its ``maxUnavailable`` (a count, or a share of the replicas rounded down)."""
    replicas = workload.spec.replicas or 0
    strategy = workload.spec.strategy
    if strategy is not None and strategy.type == "Recreate":
        return replicas
    most = strategy.rolling_update.max_unavailable if strategy is not None and strategy.rolling_update else None
    most = "25%" if most is None else most
    if isinstance(most, str) and most.endswith("%"):
        return math.floor(replicas * float(most[:-1]) / 100)
    return min(replicas, int(most))


class TeamWorkloads:
    """The services of a target file on the ``kubernetes`` platform: their clusters (one client and pod watch
    per kubeconfig, context and namespace), their workloads and the pods that are theirs."""

    def __init__(self, platforms: dict[str, KubernetesPlatform], safety: KubernetesSafety, shown: str) -> None:
        self.platforms, self.safety, self.shown = platforms, safety, shown
        self.handles: dict[str, _Handle] = {}

    def field(self, service: str) -> str:
        return f"services.{service}.platform.kubernetes"

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect to each service's cluster, find its workload and the selector of its pods; each problem is one
        line naming the field."""
        groups: dict[tuple[Any, str], dict[str, Ref]] = {}
        accesses: dict[tuple[Any, str], KubeconfigAccess] = {}
        for name, p in self.platforms.items():
            access = KubeconfigAccess(Path(p.kubeconfig) if p.kubeconfig else None, p.context, p.in_cluster)
            key = (access, p.namespace)
            accesses[key] = access
            groups.setdefault(key, {})[name] = Ref(p.kind or "", p.name or "", p.selector or "", p.container)
        for key, refs in groups.items():
            access, namespace = key[0], key[1]
            try:
                api = Cluster(access, namespace, refs)
            except Exception as exc:  # the client's ConfigException, a missing file: one line
                raise ConfigError(self.shown, self.field(next(iter(refs))),
                                  f"cannot reach the cluster through {access.server}: {exc}") from None
            for name in list(refs):
                refs[name] = api.refs[name] = self._resolve(api, name, refs[name])
            watch = PodWatch(accesses[key], namespace, refs).start()
            for name in refs:
                self.handles[name] = _Handle(api, watch)

    def _resolve(self, api: Cluster, service: str, ref: Ref) -> Ref:
        """The workload the file names, read from the API server, with its pods' selector (its ``matchLabels``
        where the file gives none, which then must be all it selects by)."""
        where = f"{self.field(service)}"
        if not ref.kind:
            return ref
        try:
            workload = api.workload(service)
        except Exception as exc:
            why = api_refusal(exc)
            if why is None:
                raise
            raise HarnessError(f"{self.shown}: {where}: {ref.kind} {ref.name} in namespace {api.namespace}: {why}") \
                from None
        sel = workload.spec.selector
        if ref.selector:
            template = workload.spec.template.metadata.labels or {}
            if not ref.matches(template):
                raise HarnessError(f"{self.shown}: {where}.selector: {ref.selector} does not match the pods of "
                                   f"{ref.kind} {ref.name}")
            return ref
        if sel is None or not sel.match_labels or sel.match_expressions:
            raise HarnessError(f"{self.shown}: {where}: {ref.kind} {ref.name} selects its pods by expressions: give "
                               "a selector of equality terms that matches them")
        return Ref(ref.kind, ref.name, ",".join(f"{k}={v}" for k, v in sorted(sel.match_labels.items())),
                   ref.container)

    def stop(self) -> None:
        for handle in {id(h.watch): h for h in self.handles.values()}.values():
            handle.watch.stop()
            handle.api.close()
        self.handles.clear()

    # -- what the drill reads --------------------------------------------------------------------
    def describe(self, service: str) -> str:
        p = self.platforms[service]
        what = f"{p.kind} {p.name}" if p.kind else f"the pods labelled {p.selector}"
        return f"{what} in namespace {p.namespace}"

    def is_running(self, service: str) -> bool:
        """One of its pods (not being deleted) is ready."""
        handle = self.handles.get(service)
        if handle is None:
            return False
        try:
            pods = handle.api.pods(service)
        except Exception as exc:
            if api_refusal(exc) is None:
                raise
            return False
        return any(pod_ready(p) for p in pods)

    def last_started(self, service: str) -> float | None:
        """When its workload was last back at its wanted ready pods, as the pod watch saw it."""
        handle = self.handles.get(service)
        if handle is None or not self.is_running(service):
            return None
        return handle.watch.back_at.get(service)

    # -- faults ----------------------------------------------------------------------------------
    def build(self, kind: str, spec: Any, ledger: Any) -> Any:
        handle = self._handle(spec.target)
        service = spec.target
        if kind == "pod-delete":
            return DeletePods(handle, service, spec.count, spec.percent, spec.grace_period, ledger)
        if kind == "stop-service":
            return ScaleToZero(handle, service, ledger)
        if kind == "bad-rollout":
            return BadRollout(handle, service, ledger)
        if kind == "cpu-stress":
            return StressInPod(handle, service, kind, ["--cpu", str(spec.workers), "--cpu-load", str(spec.load)],
                               ledger)
        return StressInPod(handle, service, kind, ["--vm", "1", "--vm-bytes", f"{spec.megabytes}M", "--vm-keep"],
                           ledger)

    def _handle(self, service: str) -> _Handle:
        handle = self.handles.get(service)
        if handle is None:
            raise HarnessError(f"{self.shown}: {self.field(service)}: the target has not connected to its cluster")
        return handle

    def refusal(self, spec: Any, monitoring_urls: dict[str, str]) -> str | None:
        """Why this fault must not run on the service's workload (one line naming the setting), or None: more pods
        than the bound, a scale or rollout of pods that no workload owns, or a pod the monitoring is at."""
        service, kind = spec.target, spec.kind
        api = self._handle(service).api
        ref = api.ref(service)
        pods = api.pods(service)
        where = f"{self.shown}: safety.kubernetes"
        if not pods:
            return f"{self.shown}: {self.field(service)}: no pod matches {ref.selector} in namespace {api.namespace}"
        addresses = {p.status.pod_ip for p in pods if p.status.pod_ip}
        for setting, url in monitoring_urls.items():
            if urlsplit(url).hostname in addresses:
                return (f"{self.shown}: services.{service}: a pod of {self.describe(service)} is at "
                        f"{urlsplit(url).hostname}, where {setting} is: gameday never faults the monitoring")
        if kind in ("stop-service", "bad-rollout") and not ref.kind:
            return (f"{self.shown}: {self.field(service)}: {kind} changes a workload: give its kind and name, not a "
                    "selector alone")
        if kind == "bad-rollout" and ref.kind != "Deployment":
            return f"{self.shown}: {self.field(service)}: bad-rollout is for a Deployment, not a {ref.kind}"
        bound = pods_bound(self.safety, len(pods))
        if kind == "pod-delete":
            n = math.ceil(len(pods) * spec.percent / 100) if spec.percent is not None else int(spec.count or 1)
            down = min(n, len(pods))
        elif kind == "stop-service":
            down = len(pods)
        elif kind == "bad-rollout":
            down = down_in_rollout(api.workload(service))
        else:
            down = 1
        if down > bound:
            return (f"{where}.max_pods: {kind} on {service} would take down {down} of its {len(pods)} pods, past the "
                    f"bound of {bound} (max_pods {self.safety.max_pods}"
                    + (f", max_percent {self.safety.max_percent:g}" if self.safety.max_percent is not None else "")
                    + ")")
        return None
