"""The lab on Kubernetes as a target (``--target k8s``): the inference gateway and model backend as Deployments
on the local cluster (``gameday.k8s.cluster``), each behind a Service, watched by a Prometheus and an
Alertmanager the harness runs on this machine's loopback.

Prometheus finds the pods the cluster's API server lists (``gameday.k8s.discovery``: Debian's Prometheus has no
Kubernetes discovery of its own), so a replaced pod is scraped at its new address; the harness renders that
config, so a time scale is allowed. Load and probes go to the Services' cluster IPs, which kube-proxy answers
from this host; nothing else of the cluster's networks is reached.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import yaml

from gameday.core.durations import format_ms, seconds
from gameday.core.processes import CleanOnFailure
from gameday.k8s.cluster import POD_NETWORK, SERVICE_NETWORK, LocalCluster, binaries
from gameday.k8s.discovery import PodDiscovery
from gameday.k8s.netcheck import wait_programmed, write_down
from gameday.k8s.sweep import MARK
from gameday.k8s.watch import PodWatch
from gameday.k8s.workloads import Access, Cluster, Workload, deployment, service
from gameday.lab.stack import LabConfig
from gameday.observe.clients import Alertmanager, Prometheus, probe
from gameday.observe.receiver import WebhookReceiver
from gameday.target.allowlist import Reach
from gameday.target.monitoring import load_stack_settings, render_monitoring
from gameday.target.ports import free_port
from gameday.target.protocol import FaultKinds, SliProbe
from gameday.target.readiness import wait_ready

GATEWAY, BACKEND = "inference-gateway", "model-backend"
PORTS = {GATEWAY: 8000, BACKEND: 8001}
NAMESPACE = "gameday"


class K8sConfig(LabConfig):
    """Where the k8s target's config lives and how fast it runs: the lab's own, as it runs the lab's services."""


def discover_pods(prom: dict[str, Any], sd_url: str) -> dict[str, Any]:
    """The lab's Prometheus config with each service's static target replaced by its Service's endpoints, as the
    ``endpoints`` role finds them (``gameday.k8s.discovery``; the relabelling is the one a
    ``kubernetes_sd_configs`` job takes): a replaced pod is scraped at its new address, and one whose container
    crashed stays a target, scraped and down. The cgroup exporter's job is left out: no exporter reads the pods'
    cgroups yet."""
    jobs = []
    for job in prom.get("scrape_configs") or []:
        name = job.get("job_name")
        if name not in PORTS:
            continue
        job.pop("static_configs", None)
        job["http_sd_configs"] = [{"url": sd_url, "refresh_interval": "1s"}]
        job["relabel_configs"] = [
            {"source_labels": ["__meta_kubernetes_namespace"], "regex": NAMESPACE, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_service_name"], "regex": name, "action": "keep"},
            {"source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": "http", "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"}]
        jobs.append(job)
    prom["scrape_configs"] = jobs
    return prom


@dataclass
class K8sStack(CleanOnFailure):
    """The lab's services on the local cluster (``gameday.target.protocol.Target``)."""

    name = "k8s"
    owns_monitoring = True
    created_by_run = True
    sli = SliProbe(GATEWAY, "POST", "/v1/predict", {"inputs": [0.1]})

    config: K8sConfig
    receiver: WebhookReceiver | None = None  # type: ignore[assignment]
    faults: FaultKinds = field(default_factory=FaultKinds)
    alerting_epoch: float = 0.0
    started_in: float | None = None
    urls: dict[str, str] = field(default_factory=dict)
    cluster: LocalCluster | None = None
    api: Cluster | None = None
    access: Access | None = None
    monitoring: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    discovery: PodDiscovery | None = None
    watch: PodWatch | None = None
    image: str = ""
    """The stack's image in the cluster (``gameday-stack:TAG``)."""
    remedies: list[str] = field(default_factory=list)
    """What the start had to do for a Service that did not answer from this host (``_services_answer``)."""
    _argv: dict[str, list[str]] = field(default_factory=dict)
    _workers: Any = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 180.0) -> None:
        from gameday.k8s.faults import k8s_fault_kinds

        t0 = time.monotonic()
        cfg = self.config
        cfg.workdir.mkdir(parents=True, exist_ok=True)
        self.cluster = LocalCluster(binaries(cfg.root), cfg.workdir / "cluster").start()
        token = self.cluster.workdir / "token"
        fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.cluster.token)
        self.access = Access(self.cluster.server, self.cluster.workdir / "pki" / "ca.crt", token)
        image = self.image = self._image()
        self.api = Cluster(self.access, NAMESPACE)
        self.api.create_namespace()
        self.watch = PodWatch(self.access, NAMESPACE).start()
        self._deploy(image)
        self.receiver = WebhookReceiver(host="127.0.0.1").start()
        self.discovery = PodDiscovery(self.access, NAMESPACE).start()
        ports = {"prometheus": free_port(), "alertmanager": free_port()}
        self._monitoring(ports)
        self.urls |= {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
        self.faults = k8s_fault_kinds(self)
        self._services_answer()
        self.wait_ready(ready_timeout)
        self.started_in = time.monotonic() - t0

    def stop(self) -> None:
        for name in ("prometheus", "alertmanager"):
            _end(self.monitoring.pop(name, None))
        for server in (self.receiver, self.discovery, self.watch):
            if server is not None:
                with contextlib.suppress(OSError):
                    server.stop()
        if self.api is not None:
            self.api.close()
        if self.cluster is not None:
            self.cluster.stop()  # its pods, processes, bridge and address: nothing of it is left

    def _image(self) -> str:
        """The stack's image, built in the Docker engine as for the Compose target, moved into the cluster."""
        from gameday.compose.stack import ComposeConfig, ComposeStack

        assert self.cluster is not None
        cfg = self.config
        builder = ComposeStack(ComposeConfig(cfg.root, cfg.workdir / "image", config_dir=cfg.config_dir))
        ref = f"gameday-stack:{builder.image_tag()}"
        self.cluster.load_image(ref, builder.ensure_image)
        return ref

    def _deploy(self, image: str) -> None:
        """The Services first (the gateway is told its backend's cluster IP: the cluster has no DNS), then the
        Deployments, each with the restart back-off of ``config/lab.yaml`` (scaled) in its entrypoint."""
        assert self.api is not None
        cfg = self.config
        svc = load_stack_settings(cfg.config_dir, (GATEWAY, BACKEND))["services"]  # type: ignore[arg-type]
        ips = {}
        for name, port in PORTS.items():
            made = self.api.core.create_namespaced_service(NAMESPACE, service(Workload(name, port, [], 0)))
            ips[name] = made.spec.cluster_ip
            self.urls[name] = f"http://{ips[name]}:{port}"
        wait_programmed(ips)
        backend = svc[BACKEND]
        commands = {
            BACKEND: ["python3", "model_backend.py", "--host", "0.0.0.0", "--port", "8001",  # noqa: S104 - the pod's
                      "--work-ms", str(backend.get("work_ms", 1)), "--slots", str(backend.get("slots", 3)),
                      "--accelerator-ms", str(backend.get("accelerator_ms", 30))],
            GATEWAY: ["python3", "inference_gateway.py", "--host", "0.0.0.0", "--port", "8000",  # noqa: S104
                      "--backend", f"http://{ips[BACKEND]}:8001",
                      "--timeout", f"{seconds(svc[GATEWAY]['backend_timeout']):g}"]}
        for name in (BACKEND, GATEWAY):
            delay = seconds(svc[name]["restart_delay"]) / cfg.time_scale
            self.api.apps.create_namespaced_deployment(
                NAMESPACE, deployment(Workload(name, PORTS[name], commands[name], delay), image))

    def _services_answer(self, within: float = 30.0) -> None:
        """Once both Deployments are ready, their Services must answer from this host. Where one does not while
        its endpoints are ready (seen on this machine now and then, under load), what the host's network said is
        written to the cluster's ``logs/unanswered-N.txt`` and the start says so; then kube-proxy is restarted
        (it writes its rules anew), and should that not do, the silent Service's pods are replaced and its
        connection tracking entries dropped. A Service still silent is left to the readiness wait, whose error
        names what the cluster says."""
        assert self.api is not None and self.cluster is not None
        for name in PORTS:
            self.api.wait_ready(name, within)
        remedies = [("kube-proxy restarted", self._restart_proxy), ("its pods replaced", self._replace_pods)]
        for attempt in range(len(remedies) + 1):
            deadline = time.monotonic() + (10.0 if attempt == 0 else 20.0)
            while time.monotonic() < deadline:
                if all(self.service_healthy(name) for name in PORTS):
                    return
                time.sleep(0.2)
            if attempt == len(remedies):
                return
            silent = [n for n in PORTS if not self.service_healthy(n)]
            pods = {n: [f"http://{p.status.pod_ip}:{PORTS[n]}" for p in self.api.pods(n) if p.status.pod_ip]
                    for n in silent}
            said = write_down(self.cluster.workdir / "logs" / f"unanswered-{attempt + 1}.txt",
                              {n: self.urls[n] for n in silent}, pods)
            what, remedy = remedies[attempt]
            remedy(silent)
            self.remedies.append(what)
            print(f"gameday: k8s: {', '.join(silent)} did not answer at its cluster IP though its pods were ready: "
                  f"{what} (what the network said: {said})", file=sys.stderr, flush=True)

    def _restart_proxy(self, silent: list[str]) -> None:
        assert self.cluster is not None
        self.cluster.restart("kube-proxy")

    def _replace_pods(self, silent: list[str]) -> None:
        assert self.api is not None
        for name in silent:
            ip = self.urls[name].split("//", 1)[1].rsplit(":", 1)[0]
            subprocess.run(["conntrack", "-D", "-d", ip], capture_output=True, timeout=30)
            for pod in self.api.pods(name):
                self.api.core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)
        for name in silent:
            self.api.wait_ready(name, 30.0)

    def _monitoring(self, ports: dict[str, int]) -> None:
        """Render the monitoring config (scaled, the receiver and its secret filled in, the pods found by service
        discovery) and start Prometheus and Alertmanager on loopback. They carry the cluster's mark, so should
        this run die outright the cluster's guard ends them with the rest."""
        assert self.receiver is not None and self.discovery is not None
        cfg = self.config
        out = cfg.workdir / "config"
        addrs = {"alertmanager": f"127.0.0.1:{ports['alertmanager']}", "gateway": "-", "backend": "-",
                 "containers": "-"}
        paths = render_monitoring(cfg.config_dir, cfg.rules_dir, out, cfg.time_scale, addrs,  # type: ignore[arg-type]
                                  self.receiver.url, (cfg.root / "runbooks").resolve().as_uri(),
                                  webhook_secret=self.receiver.secret)
        prom = discover_pods(yaml.safe_load(paths["prometheus"].read_text()), self.discovery.url)
        paths["prometheus"].write_text(yaml.safe_dump(prom, sort_keys=False))
        settings = load_stack_settings(cfg.config_dir, (GATEWAY, BACKEND))  # type: ignore[arg-type]
        resend = seconds(settings["prometheus"]["resend_delay"]) / cfg.time_scale
        am_bin = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager") or "prometheus-alertmanager"
        self._argv = {
            "alertmanager": [am_bin, f"--config.file={paths['alertmanager']}",
                             f"--storage.path={cfg.workdir / 'am-data'}",
                             f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address=",
                             "--log.level=warn"],
            "prometheus": [shutil.which("prometheus") or "prometheus", f"--config.file={paths['prometheus']}",
                           f"--storage.tsdb.path={cfg.workdir / 'tsdb'}",
                           f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                           f"--rules.alert.resend-delay={format_ms(max(1, round(resend * 1000)))}",
                           "--log.level=warn"]}
        for stale in ("tsdb", "am-data"):
            shutil.rmtree(cfg.workdir / stale, ignore_errors=True)
        self.alerting_epoch = time.monotonic()
        for name in ("alertmanager", "prometheus"):
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        logs = self.config.workdir / "logs"
        logs.mkdir(exist_ok=True)
        with (logs / f"{name}.log").open("ab") as log:
            self.monitoring[name] = subprocess.Popen(self._argv[name], stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                                     env={**os.environ, MARK: "1"})

    def reset_alerting(self, timeout: float = 60.0) -> float:
        """Restart Prometheus and Alertmanager with no alert state (Alertmanager's notification log goes); the
        TSDB stays."""
        for name in ("prometheus", "alertmanager"):
            _end(self.monitoring.pop(name, None))
        (self.config.workdir / "am-data" / "nflog").unlink(missing_ok=True)
        self.alerting_epoch = time.monotonic()
        for name in ("alertmanager", "prometheus"):
            self._spawn(name)
        self.__dict__.pop("prometheus", None)
        self.__dict__.pop("alertmanager", None)
        self.wait_ready(timeout)
        return self.alerting_epoch

    # -- the target ------------------------------------------------------------------------------
    def load_workers(self) -> Any:
        """A drill's Locust workers as a Deployment in the cluster (``gameday.k8s.loadworkers``), one pool for the
        stack."""
        from gameday.k8s.loadworkers import ClusterWorkers

        if self._workers is None:
            self._workers = ClusterWorkers(self)
        return self._workers

    @cached_property
    def prometheus(self) -> Prometheus:
        return Prometheus(self.urls["prometheus"])

    @cached_property
    def alertmanager(self) -> Alertmanager:
        return Alertmanager(self.urls["alertmanager"])

    @property
    def reach(self) -> Reach:
        """Loopback (the monitoring), and the cluster's Service and pod networks, which this run created."""
        return Reach.of(["127.0.0.0/8", "::1/128", SERVICE_NETWORK, POD_NETWORK],
                        "the k8s target (the networks of the cluster this run started)")

    def services(self) -> list[str]:
        return [GATEWAY, BACKEND]

    def url(self, service: str) -> str:
        return self.urls[service]

    def allowlist(self) -> list[str]:
        return list(self.urls.values())

    def is_running(self, service: str) -> bool:
        """One of its pods (not being deleted) has its container running and ready (its readiness probe answers):
        its Service has somewhere to send a request."""
        assert self.api is not None
        for pod in self.api.pods(service):
            for st in pod.status.container_statuses or []:
                if st.name == service and st.ready and st.state.running is not None:
                    return True
        return False

    def last_started(self, service: str) -> float | None:
        """When the service's Deployment was last back at its wanted ready replicas, as the pod watch saw it
        (``gameday.k8s.watch``); None while it is not."""
        assert self.watch is not None
        if not self.is_running(service):
            return None
        return self.watch.back_at.get(service)

    def service_healthy(self, service: str) -> bool:
        return probe(f"{self.urls[service]}/health")

    def sli_healthy(self) -> bool:
        return self.service_healthy(GATEWAY) and self.sli.check(self.urls[GATEWAY])

    def runbook_env(self) -> dict[str, str]:
        names = {GATEWAY: "GATEWAY", BACKEND: "BACKEND", "prometheus": "PROMETHEUS", "alertmanager": "ALERTMANAGER"}
        assert self.cluster is not None
        # the cluster's own kubectl first on PATH: the runbooks' Kubernetes versions use it
        path = f"{self.cluster.bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
        return {names[s]: u for s, u in self.urls.items() if s in names} | {
            "KUBECONFIG": str(self.cluster.kubeconfig), "NAMESPACE": NAMESPACE, "PATH": path}

    def wait_ready(self, timeout: float) -> None:
        wait_ready(self, timeout, "the k8s target", hint=self._pods_said, broken=self._broken)

    def _pods_said(self) -> str:
        """What the cluster says of each service's pods and Service, for a target that did not get ready."""
        if self.api is None:
            return ""
        said = []
        with contextlib.suppress(Exception):
            for name in PORTS:
                pods = self.api.pods(name)
                ready = [c.ready for p in pods for c in (p.status.container_statuses or [])]
                ends = self.api.core.read_namespaced_endpoints(name, NAMESPACE).subsets or []
                said.append(f"{name}: {len(pods)} pod(s), ready {ready}, "
                            f"{sum(len(s.addresses or []) for s in ends)} ready endpoint(s) behind {self.urls[name]}")
        return f"; the cluster says: {'; '.join(said)}" if said else ""

    def _broken(self) -> str:
        for name, proc in self.monitoring.items():
            if proc.poll() is not None:
                log = self.config.workdir / "logs" / f"{name}.log"
                tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:]) if log.exists() else ""
                return f": {name} exited ({proc.returncode}): {tail[-400:]}"
        return ""


def _end(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
