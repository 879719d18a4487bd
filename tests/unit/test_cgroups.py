"""Cgroups and the container exporter, on a folder laid out as the kernel's cgroup v1 files are."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gameday.lab.cgroups import Cgroup, CgroupCollector, CgroupUnavailable, lab_cgroup
from gameday.lab.faults import lab_fault_kinds


@pytest.fixture
def root(tmp_path):
    for c in ("cpu", "cpuacct", "memory"):
        (tmp_path / c).mkdir()
        (tmp_path / c / "cgroup.procs").write_text("")
    return tmp_path


def test_create_writes_the_limits(root):
    group = Cgroup("gameday/abc/model-backend", root)
    group.create(0.5, 512 * 2 ** 20)
    assert (group.dir("cpu") / "cpu.cfs_quota_us").read_text() == "50000"
    assert (group.dir("cpu") / "cpu.cfs_period_us").read_text() == "100000"
    assert (group.dir("memory") / "memory.limit_in_bytes").read_text() == str(512 * 2 ** 20)


def test_without_the_hierarchies_it_says_why(tmp_path):
    with pytest.raises(CgroupUnavailable, match="no cgroup v1 cpu, cpuacct, memory hierarchy"):
        Cgroup("x/y", tmp_path).create(1, 2 ** 20)


def fill(group, usage_ns, quota, period, usage, limit, inactive):
    for c in ("cpu", "cpuacct", "memory"):
        group.dir(c).mkdir(parents=True, exist_ok=True)
    (group.dir("cpuacct") / "cpuacct.usage").write_text(f"{usage_ns}\n")
    (group.dir("cpu") / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (group.dir("cpu") / "cpu.cfs_period_us").write_text(f"{period}\n")
    (group.dir("memory") / "memory.usage_in_bytes").write_text(f"{usage}\n")
    (group.dir("memory") / "memory.limit_in_bytes").write_text(f"{limit}\n")
    (group.dir("memory") / "memory.stat").write_text(f"cache 5\ntotal_inactive_file {inactive}\nrss 9\n")


def test_stats_read_the_counters_and_the_working_set_leaves_out_inactive_cache(root):
    group = Cgroup("docker/abc", root)
    fill(group, 2_500_000_000, 50000, 100000, 400 * 2 ** 20, 512 * 2 ** 20, 100 * 2 ** 20)
    s = group.stats()
    assert s["cpu_usage_seconds"] == pytest.approx(2.5)
    assert s["cpu_quota"] / s["cpu_period"] == 0.5
    assert s["memory_working_set_bytes"] == 300 * 2 ** 20 and s["memory_limit_bytes"] == 512 * 2 ** 20


def test_a_file_that_cannot_be_read_is_left_out_not_guessed(root):
    group = Cgroup("docker/abc", root)
    fill(group, 1, 1, 1, 1, 1, 0)
    (group.dir("cpuacct") / "cpuacct.usage").write_text("garbage")
    (group.dir("memory") / "memory.stat").unlink()
    s = group.stats()
    assert "cpu_usage_seconds" not in s and "memory_working_set_bytes" not in s and s["cpu_quota"] == 1


def test_the_exporter_serves_cadvisor_names_per_service_from_its_map(root, tmp_path):
    fill(Cgroup("docker/b", root), 3_000_000_000, 50000, 100000, 200, 1000, 50)
    mapping = tmp_path / "containers.json"
    mapping.write_text(json.dumps({"model-backend": "docker/b", "gone": "docker/none"}))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CgroupCollector(mapping, root))
    text = generate_latest(registry).decode()
    assert 'container_cpu_usage_seconds_total{id="/docker/b",name="model-backend"} 3.0' in text
    assert 'container_spec_cpu_quota{id="/docker/b",name="model-backend"} 50000.0' in text
    assert 'container_memory_working_set_bytes{id="/docker/b",name="model-backend"} 150.0' in text
    assert 'container_spec_memory_limit_bytes{id="/docker/b",name="model-backend"} 1000.0' in text
    assert 'name="gone"' not in text, "a cgroup that is not there has no series, not zeros"
    mapping.write_text("not json")
    assert "model-backend" not in generate_latest(registry).decode()


def test_a_lab_cgroup_is_named_after_its_folder(tmp_path):
    a, b = lab_cgroup(tmp_path / "one", "model-backend"), lab_cgroup(tmp_path / "two", "model-backend")
    assert a.path != b.path and a.path.startswith("gameday/") and a.path.endswith("/model-backend")
    assert lab_cgroup(tmp_path / "one", "model-backend").path == a.path


def test_without_a_cgroup_the_lab_cannot_stress_and_says_why():
    kinds = lab_fault_kinds("no cgroup v1 memory hierarchy under /sys/fs/cgroup")
    why = kinds.why_not("cpu-stress", "lab", "model-backend")
    assert why is not None and "no cgroup v1 memory hierarchy" in why
    assert kinds.why_not("cpu-stress", "lab", "model-backend") == kinds.why_not("cpu-stress", "lab")
    ok = lab_fault_kinds(None)
    assert ok.why_not("memory-stress", "lab", "model-backend") is None
    assert "only on model-backend" in ok.why_not("cpu-stress", "lab", "inference-gateway")


def test_remove_takes_the_empty_folders_above_it_and_keeps_the_rest(root):
    a, b = Cgroup("gameday/lab1/model-backend", root), Cgroup("gameday/lab2/model-backend", root)
    for group in (a, b):
        for c in ("cpu", "cpuacct", "memory"):
            group.dir(c).mkdir(parents=True)
    assert a.remove()
    assert not (root / "memory" / "gameday" / "lab1").exists()
    assert b.dir("memory").exists(), "another lab's cgroup stays"
    assert b.remove() and not (root / "memory" / "gameday").exists() and (root / "memory").exists()
