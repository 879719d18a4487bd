"""Container metrics from cgroups: the CPU and memory a service uses against its limits.

A service's cgroup (a container's, or the one the lab puts its model backend in) counts everything
that runs in it, a stress fault's workers included, and holds its limits. This module reads those
counters and, as ``python -m gameday.lab.cgroups``, serves them to Prometheus under cAdvisor's metric
names, so that the resource rules are the ones a team runs against cAdvisor or the kubelet:

- ``container_cpu_usage_seconds_total{name}``: CPU time used;
- ``container_spec_cpu_quota{name}`` and ``container_spec_cpu_period{name}``: the CPU limit, in
  microseconds of CPU per period (quota / period = cores);
- ``container_memory_usage_bytes{name}``, ``container_memory_working_set_bytes{name}`` (usage less
  inactive page cache, what the kernel's OOM decisions look at) and
  ``container_spec_memory_limit_bytes{name}``.

Why not an existing exporter: Debian's node exporter sees the whole machine (shared here with the
harness, Prometheus and Locust, so no alert could be pinned on the service), its process exporter
sees processes by name (a stress worker is not the backend), and cAdvisor is not packaged for Debian
12 and no image can be pulled. The kernel's cgroup files are the source all of them read.

Cgroup v1 only (cpu, cpuacct and memory hierarchies), as on the machines this runs on; elsewhere
``Cgroup.create`` raises ``CgroupUnavailable`` with the reason, and the lab's stress faults are then
missing with that reason, never faked.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "cpuacct", "memory")


class CgroupUnavailable(Exception):
    """This machine cannot give a service a cgroup of its own (why, in one line)."""


class Cgroup:
    """One service's cgroup in each v1 hierarchy: ``<root>/<controller>/<path>``."""

    def __init__(self, path: str, root: Path = ROOT) -> None:
        self.path, self.root = path.strip("/"), root

    def dir(self, controller: str) -> Path:
        return self.root / controller / self.path

    # -- the lab's side: make it, limit it, put processes in it, take it down -------------------
    def create(self, cpu_cores: float, memory_bytes: int) -> None:
        """Make the cgroup with its limits; ``CgroupUnavailable`` when this machine cannot."""
        missing = [c for c in CONTROLLERS if not (self.root / c / "cgroup.procs").is_file()]
        if missing:
            raise CgroupUnavailable(f"no cgroup v1 {', '.join(missing)} hierarchy under {self.root} "
                                    "(cgroup v2 is not supported yet)")
        try:
            for c in CONTROLLERS:
                self.dir(c).mkdir(parents=True, exist_ok=True)
            period = 100_000
            self._write("cpu", "cpu.cfs_period_us", period)
            self._write("cpu", "cpu.cfs_quota_us", round(cpu_cores * period))
            self._write("memory", "memory.limit_in_bytes", memory_bytes)
        except OSError as exc:
            self.remove()
            raise CgroupUnavailable(f"cannot make cgroup {self.path} under {self.root}: {exc.strerror or exc} "
                                    "(it takes root)") from None

    def _write(self, controller: str, name: str, value: int | str) -> None:
        (self.dir(controller) / name).write_text(str(value))

    def join(self, pid: int | None = None) -> None:
        """Move ``pid`` (default: this process, as a child does before it execs) into the cgroup."""
        for c in CONTROLLERS:
            with open(self.dir(c) / "cgroup.procs", "w") as f:
                f.write(str(pid or os.getpid()))

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.dir("memory") / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def stressors(self) -> list[int]:
        """The stress-ng processes in it (a stress fault's)."""
        found = []
        for pid in self.pids():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip().startswith("stress-ng"):
                    found.append(pid)
        return found

    def kill_all(self) -> list[int]:
        """SIGKILL whatever is left in it (a killed run's leftovers)."""
        killed = []
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        return killed

    def remove(self, timeout: float = 5.0) -> bool:
        """Remove the cgroup (it must be empty: the kernel refuses otherwise); True when it is gone."""
        deadline = time.monotonic() + timeout
        for c in CONTROLLERS:
            d = self.dir(c)
            while d.exists():
                try:
                    d.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(0.05)  # the last process is still exiting
            parent = d.parent
            while parent != self.root / c and parent.is_relative_to(self.root / c):
                try:
                    parent.rmdir()  # the lab's own folders above it, once nothing else is in them
                except OSError:
                    break
                parent = parent.parent
        return True

    # -- the exporter's side: read it ------------------------------------------------------------
    def stats(self) -> dict[str, float]:
        """Its counters now; a file that cannot be read is left out, not guessed."""
        out: dict[str, float] = {}
        reads = {
            "cpu_usage_seconds": ("cpuacct", "cpuacct.usage", 1e-9),
            "cpu_quota": ("cpu", "cpu.cfs_quota_us", 1),
            "cpu_period": ("cpu", "cpu.cfs_period_us", 1),
            "memory_usage_bytes": ("memory", "memory.usage_in_bytes", 1),
            "memory_limit_bytes": ("memory", "memory.limit_in_bytes", 1),
        }
        for key, (controller, name, unit) in reads.items():
            with contextlib.suppress(OSError, ValueError):
                out[key] = int((self.dir(controller) / name).read_text()) * unit
        try:
            stat = dict(line.split() for line in (self.dir("memory") / "memory.stat").read_text().splitlines())
            inactive = int(stat.get("total_inactive_file", stat.get("inactive_file", 0)))
        except (OSError, ValueError):
            inactive = None
        if "memory_usage_bytes" in out and inactive is not None:
            out["memory_working_set_bytes"] = max(0.0, out["memory_usage_bytes"] - inactive)
        return out


def revert_left_stress(entry: dict[str, Any]) -> tuple[str, str]:
    """A stress fault in a lab cgroup that a killed run left open: end any stress-ng still in it, and remove the
    cgroup once nothing is in it (its lab died with that run)."""
    group = Cgroup(str((entry.get("detail") or {}).get("cgroup", "")))
    if not group.path.startswith("gameday/"):
        return "abandoned", f"not a lab cgroup: {group.path!r}"
    left = group.stressors()
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while group.stressors() and time.monotonic() < deadline:
        time.sleep(0.05)
    if group.stressors():
        return "abandoned", f"stress-ng still in cgroup {group.path} after SIGKILL: pids {group.stressors()}"
    removed = not group.pids() and group.remove(timeout=1)
    tail = "; its cgroup removed" if removed else ""
    if left:
        return "reverted", f"stress-ng (pids {left}) was still in the backend's cgroup: killed{tail}"
    return "gone", f"the stress died with the run that started it{tail}"


def lab_cgroup(workdir: Path, service: str, root: Path = ROOT) -> Cgroup:
    """The cgroup of a lab service: named after the lab's folder, so a killed run's one is found again."""
    import hashlib

    lab = hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:12]
    return Cgroup(f"gameday/{lab}/{service}", root)


# -- the exporter ----------------------------------------------------------------------------------
METRICS = [  # (metric, help, type, stats key)
    ("container_cpu_usage_seconds_total", "CPU time the container used", "counter", "cpu_usage_seconds"),
    ("container_spec_cpu_quota", "CPU quota of the container, microseconds per period", "gauge", "cpu_quota"),
    ("container_spec_cpu_period", "CPU period of the container, microseconds", "gauge", "cpu_period"),
    ("container_memory_usage_bytes", "Memory the container uses, page cache included", "gauge",
     "memory_usage_bytes"),
    ("container_memory_working_set_bytes", "Memory the container uses, less inactive page cache", "gauge",
     "memory_working_set_bytes"),
    ("container_spec_memory_limit_bytes", "Memory limit of the container", "gauge", "memory_limit_bytes"),
]


class CgroupCollector:
    """A prometheus_client collector over the cgroups named in a JSON map ``{name: cgroup path}``, read at
    each scrape (a container that is recreated gets a new path; the harness rewrites the map)."""

    def __init__(self, mapping: Path, root: Path = ROOT) -> None:
        self.mapping, self.root = mapping, root

    def groups(self) -> Iterator[tuple[str, Cgroup]]:
        try:
            names = json.loads(self.mapping.read_text())
        except (OSError, ValueError):
            return
        if isinstance(names, dict):
            for name, path in sorted(names.items()):
                if isinstance(name, str) and isinstance(path, str):
                    yield name, Cgroup(path, self.root)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = {name: (group.path, group.stats()) for name, group in self.groups()}
        for metric, text, kind, key in METRICS:
            family: Any = (CounterMetricFamily(metric.removesuffix("_total"), text, labels=["name", "id"])
                           if kind == "counter" else GaugeMetricFamily(metric, text, labels=["name", "id"]))
            for name, (path, values) in stats.items():
                if key in values:
                    family.add_metric([name, f"/{path}"], values[key])
            yield family


def main(argv: list[str] | None = None) -> int:
    from prometheus_client import CollectorRegistry, start_http_server

    parser = argparse.ArgumentParser(prog="python -m gameday.lab.cgroups", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--map", type=Path, required=True, help="JSON file: {container name: cgroup path}")
    parser.add_argument("--root", type=Path, default=ROOT, help="where the cgroup v1 hierarchies are mounted")
    parser.add_argument("--lab", default="", help="the lab folder (lets a leftover process be traced)")
    args = parser.parse_args(argv)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CgroupCollector(args.map, args.root))  # type: ignore[arg-type]
    start_http_server(args.port, args.host, registry)
    while True:  # until SIGTERM (its default action ends the process)
        time.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main())
