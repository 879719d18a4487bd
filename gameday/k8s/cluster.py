"""A single-node Kubernetes cluster on this machine, from the binaries ``k8s/build.sh`` builds out of Debian's
source package (v1.20.2), on Debian's etcd, containerd, runc and CNI plugins; started for the tests and
``--target k8s``, and torn down so that nothing of it is left: no process, pod, mount, bridge or address.

What it is made of, and why:

- etcd on loopback, in a data folder of the run's own;
- a containerd of its own (root, state and socket apart from the Docker engine's), whose CRI plugin may not raise
  a process's ``oom_score_adj`` (root here lacks CAP_SYS_RESOURCE);
- the API server, its HTTP port on loopback for the other components and the harness (no authentication, every
  request allowed: a cluster only this machine reaches, for the run's length), preferring the node's InternalIP
  to reach the kubelet (the node's name resolves nowhere);
- the controller manager and the scheduler;
- the kubelet, at a node address of its own (the kubelet refuses loopback): ``NODE_ADDRESS`` on ``lo``, added at
  the start and removed at the end;
- a bridge (``BRIDGE``) with host-local addresses from ``POD_NETWORK``, so pod IPs answer from this host;
- kube-proxy in iptables mode, so a Service's cluster IP (``SERVICE_NETWORK``) answers from the pods and from this
  host. It masquerades all of a Service's traffic: a pod reaching a pod on the same bridge through a cluster IP
  would otherwise get its answer straight from the other pod's address, which it never asked.

Nothing is pulled: the pod sandbox (``pause``, built static) and the project's image are moved into the cluster's
containerd from the Docker engine. There is no DNS: a pod finds a Service by its cluster IP.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from gameday.core.errors import HarnessError
from gameday.core.processes import CleanOnFailure, start_guard, stop_guard
from gameday.k8s.configs import CONTAINERD, KUBECONFIG, KUBELET
from gameday.k8s.sweep import BRIDGE, MARK, NODE_ADDRESS, RUN_DIR, sweep
from gameday.target.lock import TargetLock
from gameday.target.ports import free_port

NODE_NAME = "gameday-node"
POD_NETWORK = "10.252.0.0/24"
SERVICE_NETWORK = "10.253.0.0/24"
PAUSE_IMAGE = "gameday.local/pause:1"

LOCK = "k8s-cluster"
"""One local cluster on this machine at a time (its node address, bridge and runtime folder are fixed)."""

CACHE = Path(os.environ.get("GAMEDAY_K8S_CACHE", "/var/cache/gameday/k8s"))


def binaries(root: Path) -> Path:
    """The folder of the cluster's binaries, building them first where the cache has none (``k8s/build.sh``)."""
    script = root / "k8s" / "build.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise HarnessError(f"k8s/build.sh failed: {(done.stderr or done.stdout).strip()[-600:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _run(argv: list[str], check: bool = True, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # noqa: S603
    if check and done.returncode != 0:
        raise HarnessError(f"{' '.join(argv)[:120]}: {(done.stderr or done.stdout).strip()[-400:]}")
    return done


@dataclass
class LocalCluster(CleanOnFailure):
    """The cluster: ``start()`` brings it up and waits for its node to be Ready; ``stop()`` takes all of it down."""

    bin_dir: Path
    workdir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each step of ``start()`` took."""
    token: str = field(default_factory=lambda: os.urandom(16).hex())
    _http: requests.Session | None = None
    _lock: TargetLock | None = None
    _guard: subprocess.Popen[bytes] | None = None

    @property
    def server(self) -> str:
        """The API server, for the harness and the components: HTTPS on loopback, with a certificate of the run's
        own CA, and one static token that every request must carry (every request that does is allowed)."""
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def http(self) -> requests.Session:
        if self._http is None:
            self._http = requests.Session()
            self._http.trust_env = False
            self._http.verify = str(self.workdir / "pki" / "ca.crt")
            self._http.headers["Authorization"] = f"Bearer {self.token}"
        return self._http

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def sock(self) -> Path:
        return RUN_DIR / "containerd.sock"

    # -- start ---------------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 180.0) -> LocalCluster:
        if os.geteuid() != 0:
            raise HarnessError("the local Kubernetes cluster needs root (a kubelet, containerd, a bridge)")
        self._lock = TargetLock(LOCK).acquire()
        self.leftovers_removed = sweep()
        """What a run killed outright had left, removed before this one starts."""
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self._guard = start_guard("gameday.k8s.guard", [], self.workdir / "logs" / "guard.log")
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.ports = {k: free_port() for k in ("etcd", "etcd-peer", "apiserver", "kubelet", "healthz",
                                               "proxy-healthz", "proxy-metrics")}
        self._pki()
        self.kubeconfig.touch(mode=0o600)  # it holds the token: its owner's only
        self.kubeconfig.write_text(KUBECONFIG.format(server=self.server, ca=self.workdir / "pki" / "ca.crt",
                                                     token=self.token))
        _run(["ip", "addr", "add", f"{NODE_ADDRESS}/32", "dev", "lo"])
        self._containerd()
        self._step("containerd", t0)
        self._etcd()
        self._apiserver()
        self._wait(lambda: self._get("/readyz") == 200, 60, "the API server is not ready")
        self._step("apiserver", t0)
        self._spawn("controller-manager", [str(self.bin_dir / "kube-controller-manager"),
                                           f"--kubeconfig={self.kubeconfig}", "--leader-elect=false", "--port=0",
                                           "--secure-port=0", "--controllers=*,-serviceaccount-token",
                                           f"--cluster-cidr={POD_NETWORK}", "--allocate-node-cidrs=false"])
        self._spawn("scheduler", [str(self.bin_dir / "kube-scheduler"), f"--kubeconfig={self.kubeconfig}",
                                  "--leader-elect=false", "--port=0", "--secure-port=0"])
        self._kubelet()
        self._spawn("kube-proxy", [str(self.bin_dir / "kube-proxy"), f"--kubeconfig={self.kubeconfig}",
                                   f"--hostname-override={NODE_NAME}", f"--cluster-cidr={POD_NETWORK}",
                                   "--proxy-mode=iptables", "--masquerade-all=true", "--conntrack-max-per-core=0",
                                   "--feature-gates=EndpointSliceProxying=false",  # the Endpoints, as the harness reads
                                   # a pod that ends leaves the rules at once, not up to a second later: at a time
                                   # scale, that second is a minute of requests hanging on an address that is gone
                                   "--iptables-min-sync-period=0s",
                                   "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
                                   f"--healthz-bind-address=127.0.0.1:{self.ports['proxy-healthz']}",
                                   f"--metrics-bind-address=127.0.0.1:{self.ports['proxy-metrics']}",
                                   f"--nodeport-addresses={NODE_ADDRESS}/32"])
        self._wait(self.node_ready, ready_timeout, f"the node {NODE_NAME} is not Ready")
        self._wait(lambda: requests.get(f"http://127.0.0.1:{self.ports['proxy-healthz']}/healthz",
                                        timeout=2).status_code == 200, 60, "kube-proxy is not healthy")
        self._step("node ready", t0)
        return self

    def _step(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.monotonic() - t0, 1)

    def restart(self, name: str) -> None:
        """End one of the cluster's processes and start it again with the same arguments (kube-proxy then writes
        all of its rules anew)."""
        proc = self.procs.get(name)
        if proc is None:
            return
        _end(proc)
        self._spawn(name, list(proc.args))  # type: ignore[arg-type]

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.workdir / "logs" / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                            stdin=subprocess.DEVNULL, start_new_session=True,
                                            env={**os.environ, MARK: "1"})

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    tail = (self.workdir / "logs" / f"{name}.log").read_text(errors="replace")[-600:]
                    raise HarnessError(f"the cluster's {name} exited ({proc.returncode}) while starting: {tail}")
            with contextlib.suppress(requests.RequestException, OSError, ValueError, KeyError):
                if ready():
                    return
            time.sleep(0.25)
        raise HarnessError(f"{what} after {timeout:g}s (logs in {self.workdir / 'logs'})")

    def _get(self, path: str) -> int:
        return self.http.get(self.server + path, timeout=2).status_code

    def _pki(self) -> None:
        """A CA of the run's own, the API server's certificate it signed (loopback and the node's address), the
        service accounts' key, and the token file."""
        pki = self.workdir / "pki"
        pki.mkdir(exist_ok=True)
        (pki / "san").write_text(f"subjectAltName=IP:127.0.0.1,IP:{NODE_ADDRESS},DNS:localhost,DNS:kubernetes\n")
        for argv in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=gameday cluster CA",
                      "-keyout", "ca.key", "-out", "ca.crt"],
                     ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver", "-keyout",
                      "apiserver.key", "-out", "apiserver.csr"],
                     ["x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                      "-days", "2", "-extfile", "san", "-out", "apiserver.crt"],
                     ["genrsa", "-out", "service-account.key", "2048"]):
            _run(["openssl", *argv], cwd=pki)
        (pki / "tokens.csv").write_text(f'{self.token},gameday,gameday,"system:masters"\n')
        for f in pki.iterdir():
            f.chmod(0o600)

    def _containerd(self) -> None:
        cni = self.workdir / "cni"
        cni.mkdir(exist_ok=True)
        (cni / "10-gameday.conflist").write_text(json.dumps({
            "cniVersion": "0.4.0", "name": "gameday-pods", "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_NETWORK}]],
                          "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(RUN_DIR / "ipam")}},
                {"type": "portmap", "capabilities": {"portMappings": True}}]}))
        root = CACHE / "containerd"  # the images moved in stay, keyed by tag, for the next run
        conf = self.workdir / "containerd.toml"
        conf.write_text(CONTAINERD.format(root=root, state=RUN_DIR / "containerd", sock=self.sock,
                                          pause=PAUSE_IMAGE, cni=cni))
        self._spawn("containerd", ["containerd", "--config", str(conf)])
        self._wait(lambda: self.sock.exists() and self.ctr("version", check=False).returncode == 0, 30,
                   "the cluster's containerd does not answer")
        self.load_image(PAUSE_IMAGE, self._pause_image)

    def ctr(self, *args: str, check: bool = True, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
        return _run(["ctr", "--address", str(self.sock), "--namespace", "k8s.io", *args], check=check,
                    timeout=timeout, **kw)

    def has_image(self, ref: str) -> bool:
        names = self.ctr("images", "list", "--quiet").stdout.split()
        return any(n in (ref, f"docker.io/library/{ref}") for n in names)

    def load_image(self, ref: str, make: Any = None) -> None:
        """Move ``ref`` from the Docker engine into the cluster's containerd (``docker save`` to ``ctr images
        import``), unless it is there; ``make()`` first builds it in the engine."""
        if self.has_image(ref):
            return
        if make is not None:
            make()
        save = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE)  # noqa: S603, S607
        try:
            done = subprocess.run(["ctr", "--address", str(self.sock), "--namespace", "k8s.io", "images",  # noqa: S607
                                   "import", "-"], stdin=save.stdout, capture_output=True, text=True, timeout=600)
        finally:
            if save.stdout is not None:
                save.stdout.close()
            save.wait()
        if save.returncode != 0 or done.returncode != 0 or not self.has_image(ref):
            raise HarnessError(f"could not move the image {ref} into the cluster: {done.stderr.strip()[-300:]}")

    def _pause_image(self) -> None:
        """The pod sandbox as an image of one static binary, built ``FROM scratch`` (nothing to pull)."""
        ctx = self.workdir / "pause-image"
        ctx.mkdir(exist_ok=True)
        shutil.copy(self.bin_dir / "pause", ctx / "pause")
        (ctx / "Dockerfile").write_text('FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n')
        _run(["docker", "build", "-q", "-t", PAUSE_IMAGE, str(ctx)], timeout=300)

    def _etcd(self) -> None:
        peer, client = f"http://127.0.0.1:{self.ports['etcd-peer']}", f"http://127.0.0.1:{self.ports['etcd']}"
        self._spawn("etcd", ["etcd", "--name", "gameday", "--data-dir", str(self.workdir / "etcd"),
                             "--listen-client-urls", client, "--advertise-client-urls", client,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", f"gameday={peer}", "--log-level", "warn"])

    def _apiserver(self) -> None:
        pki = self.workdir / "pki"
        self._spawn("apiserver", [
            str(self.bin_dir / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1", f"--secure-port={self.ports['apiserver']}",
            f"--advertise-address={NODE_ADDRESS}", f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}", f"--token-auth-file={pki / 'tokens.csv'}",
            "--anonymous-auth=false", "--authorization-mode=AlwaysAllow",
            f"--service-cluster-ip-range={SERVICE_NETWORK}", "--service-account-issuer=https://gameday.local",
            f"--service-account-key-file={pki / 'service-account.key'}",
            f"--service-account-signing-key-file={pki / 'service-account.key'}",
            "--disable-admission-plugins=ServiceAccount", "--kubelet-preferred-address-types=InternalIP",
            "--allow-privileged=true"])

    def _kubelet(self) -> None:
        conf = self.workdir / "kubelet.yaml"
        conf.write_text(KUBELET.format(node=NODE_ADDRESS, port=self.ports["kubelet"], healthz=self.ports["healthz"]))
        self._spawn("kubelet", [
            str(self.bin_dir / "kubelet"), f"--config={conf}", f"--kubeconfig={self.kubeconfig}",
            "--container-runtime=remote", f"--container-runtime-endpoint=unix://{self.sock}",
            f"--node-ip={NODE_ADDRESS}", f"--hostname-override={NODE_NAME}",
            f"--root-dir={RUN_DIR / 'kubelet'}", f"--cert-dir={self.workdir / 'kubelet-certs'}"])

    def node_ready(self) -> bool:
        node = self.http.get(f"{self.server}/api/v1/nodes/{NODE_NAME}", timeout=2).json()
        if node.get("kind") != "Node":  # not registered yet
            return False
        return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])

    # -- stop ----------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Pods first (so the kubelet tears their sandboxes and networks down), then every process, then what is
        left in containerd, the mounts, the bridge and the node's address."""
        api = self.procs.get("apiserver")
        if api is not None and api.poll() is None and "kubelet" in self.procs:
            with contextlib.suppress(requests.RequestException):
                self._delete_all_pods()
        for name in ("kube-proxy", "kubelet", "scheduler", "controller-manager", "apiserver", "etcd"):
            _end(self.procs.get(name))
        if (c := self.procs.get("containerd")) is not None and c.poll() is None:
            self._remove_containers()
        _end(self.procs.get("containerd"))
        self.procs.clear()
        if self._lock is None:  # never started: another run's cluster is not this one's to sweep
            return
        sweep()
        stop_guard(self._guard)
        self._guard = None
        self._lock.release()
        self._lock = None

    def _delete_all_pods(self, timeout: float = 60) -> None:
        namespaces = [n["metadata"]["name"] for n in self.http.get(f"{self.server}/api/v1/namespaces",
                                                                  timeout=5).json()["items"]]
        for ns in namespaces:
            for kind in ("apis/apps/v1/namespaces/{ns}/deployments", "apis/apps/v1/namespaces/{ns}/statefulsets",
                         "apis/apps/v1/namespaces/{ns}/replicasets", "api/v1/namespaces/{ns}/pods"):
                self.http.delete(f"{self.server}/{kind.format(ns=ns)}", timeout=10,
                                params={"gracePeriodSeconds": "0"} if kind.endswith("pods") else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.http.get(f"{self.server}/api/v1/pods", timeout=5).json()["items"] and \
                    not self.ctr("containers", "list", "--quiet", check=False).stdout.split():
                return
            time.sleep(0.5)

    def _remove_containers(self) -> None:
        for cid in self.ctr("containers", "list", "--quiet", check=False).stdout.split():
            self.ctr("tasks", "kill", "--signal", "SIGKILL", cid, check=False)
            self.ctr("tasks", "delete", "--force", cid, check=False)
            self.ctr("containers", "delete", cid, check=False)
        for sid in self.ctr("snapshots", "list", check=False).stdout.splitlines()[1:]:
            self.ctr("snapshots", "remove", sid.split()[0], check=False)


def _end(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
