"""What a local cluster leaves on this machine, and its removal: its processes and its pods', mounts, cgroups,
bridge, node address and runtime folder. Read by the cluster before it starts and after it stops, by its guard
when a run died with its cluster up, and by the tests, which check that nothing is left."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

NODE_ADDRESS = "198.51.100.10"
"""The node's address (a documentation range, on ``lo``): the kubelet refuses a loopback one."""
BRIDGE = "gdk8s0"
RUN_DIR = Path("/run/gameday-k8s")
"""The cluster's sockets and runtime state; removed at the end."""


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30).stdout


MARK = "GAMEDAY_K8S_CLUSTER"
"""In the environment of each process the cluster starts, so that a leftover is known by it."""

CGROUPS = Path("/sys/fs/cgroup")
TABLES = ("nat", "filter", "mangle")
"""Where the kubelet and kube-proxy put their ``KUBE-*`` chains."""


def iptables_rules(table: str) -> list[str]:
    """The lines of iptables-save for one table (none where it cannot be read)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True,
                              timeout=30).stdout.splitlines()
    return []


def _kube_chains() -> list[tuple[str, str]]:
    """(table, chain) of every ``KUBE-*`` chain: the kubelet's and kube-proxy's, and nothing else of the host's."""
    return [(table, line[1:].split()[0]) for table in TABLES for line in iptables_rules(table)
            if line.startswith(":KUBE-")]


def _foreign_node() -> bool:
    """Whether a kubelet or kube-proxy that is not the local cluster's runs here (this machine is a real node):
    then its ``KUBE-*`` chains are its own, and stay."""
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() in ("kubelet", "kube-proxy") and \
                    f"{MARK}=1".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                return True
    return False


def _remove_kube_chains() -> None:
    """The rules of the host's own chains that jump to a ``KUBE-*`` chain, then those chains, emptied and
    deleted; never on a machine that is a real node (``_foreign_node``)."""
    if _foreign_node():
        return
    for table in TABLES:
        for line in iptables_rules(table):
            parts = shlex.split(line)
            if line.startswith("-A ") and not parts[1].startswith("KUBE-") and "-j" in parts and \
                    parts[parts.index("-j") + 1].startswith("KUBE-"):
                subprocess.run(["iptables", "-t", table, "-D", *parts[1:]], capture_output=True, timeout=30)
    chains = _kube_chains()
    for table, chain in chains:
        subprocess.run(["iptables", "-t", table, "-F", chain], capture_output=True, timeout=30)
    for table, chain in chains:
        subprocess.run(["iptables", "-t", table, "-X", chain], capture_output=True, timeout=30)


def _pod_cgroups() -> list[Path]:
    """The kubelet's cgroups (``kubepods`` under each controller), deepest first."""
    found: list[Path] = []
    for top in CGROUPS.glob("*/kubepods"):
        # os.walk passes over a folder that goes while it looks (the kubelet removing a pod's cgroup)
        found += [Path(where) for where, _dirs, _files in os.walk(top)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _pod_pids() -> set[int]:
    pids: set[int] = set()
    for cg in _pod_cgroups():
        with contextlib.suppress(OSError, ValueError):
            pids |= {int(x) for x in (cg / "cgroup.procs").read_text().split()}
    return pids


def leftovers() -> list[str]:
    """What of a cluster is on this machine now: its processes and its pods', mounts, bridge, node address,
    cgroups and runtime folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            text = b" ".join((entry / "cmdline").read_bytes().split(b"\0")).decode(errors="replace")
            if str(RUN_DIR) in text or f"{MARK}=1".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(f"process {entry.name}: {text[:100]}")
    found += [f"process {pid} of a pod" for pid in sorted(_pod_pids())]
    found += [f"mount {line.split()[1]}" for line in Path("/proc/mounts").read_text().splitlines()
              if line.split()[1].startswith(str(RUN_DIR))]
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        found.append(f"bridge {BRIDGE}")
    addrs = _ip("-o", "addr", "show", "dev", "lo")
    if f" {NODE_ADDRESS}/" in addrs:
        found.append(f"address {NODE_ADDRESS} on lo")
    found += [f"cgroup {top}" for top in CGROUPS.glob("*/kubepods")]
    if RUN_DIR.exists():
        found.append(f"folder {RUN_DIR}")
    return found + ([] if _foreign_node() else [f"iptables chain {t}/{c}" for t, c in _kube_chains()])


def sweep() -> list[str]:
    """Remove whatever a cluster left (a run killed outright): its processes and its pods', mounts, bridge, node
    address, cgroups, the kubelet's and kube-proxy's iptables chains and runtime folder. What was found."""
    found = leftovers()
    for line in found:
        if line.startswith("process "):
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line.split()[1].rstrip(":")), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _pod_pids() and time.monotonic() < deadline:
        for pid in _pod_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for cg in _pod_cgroups():
        with contextlib.suppress(OSError):
            cg.rmdir()
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
              if line.split()[1].startswith(str(RUN_DIR))]
    for mount in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)
    _ip("link", "del", BRIDGE)
    _ip("addr", "del", f"{NODE_ADDRESS}/32", "dev", "lo")
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    _remove_kube_chains()
    return found
