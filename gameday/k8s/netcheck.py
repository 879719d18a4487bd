"""Whether this host reaches the cluster's Services: kube-proxy's rules for each cluster IP, and what the host's
network said when a Service did not answer, written down so that the cause can be read after the run."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from gameday.core.errors import HarnessError
from gameday.k8s.sweep import iptables_rules


def _out(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"({' '.join(argv)}: {e})\n"
    return done.stdout + done.stderr


def programmed(ips: dict[str, str]) -> list[str]:
    """The Services (by name) whose cluster IP kube-proxy does not yet have in its rules: one with endpoints is
    in the nat table, one without them is rejected in the filter table."""
    rules = {line for table in ("nat", "filter") for line in iptables_rules(table)}
    return [n for n, ip in ips.items() if not any(line.startswith(f"-A KUBE-SERVICES -d {ip}/32") for line in rules)]


def wait_programmed(ips: dict[str, str], timeout: float = 30.0) -> None:
    """Wait until kube-proxy has each Service's cluster IP in its rules. Before that, a packet to a cluster IP
    would follow this machine's default route out of it, so the harness sends nothing there until then."""
    deadline = time.monotonic() + timeout
    while missing := programmed(ips):
        if time.monotonic() > deadline:
            raise HarnessError(f"kube-proxy did not program the Service(s) {', '.join(missing)} within "
                               f"{timeout:g}s (its log: the cluster's logs/kube-proxy.log)")
        time.sleep(0.2)


def write_down(path: Path, urls: dict[str, str], pod_urls: dict[str, list[str]]) -> Path:
    """What the host's network says of Services that did not answer: each URL tried with curl (cluster IP and
    pod IPs), the route to each, kube-proxy's rules, the connection tracking table and the bridge's neighbours."""
    parts = []
    for name, url in urls.items():
        for target in [url, *pod_urls.get(name, [])]:
            parts.append(f"## {name}: curl {target}/health\n"
                         + _out(["curl", "-sS", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}\n",
                                 f"{target}/health"]))
            host = target.split("//", 1)[1].rsplit(":", 1)[0]
            parts.append(f"## ip route get {host}\n" + _out(["ip", "route", "get", host]))
    for argv in (["iptables-save", "-t", "nat"], ["iptables-save", "-t", "filter"], ["conntrack", "-L"],
                 ["ip", "neigh"], ["ip", "-o", "addr"], ["ip", "route"]):
        parts.append(f"## {' '.join(argv)}\n" + _out(argv))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))
    return path
