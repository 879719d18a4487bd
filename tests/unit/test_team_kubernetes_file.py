"""The ``kubernetes`` platform of a team's target file, before any cluster is reached: what loads, which namespaces
a fault may reach (one line naming the setting when not), the kinds a workload takes, and the bounds on how many
pods one fault takes down."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from gameday.core.errors import ConfigError
from gameday.k8s.workloads import Ref
from gameday.scenario.model import PodDeleteFault
from gameday.team.kubernetes import down_in_rollout, pods_bound
from gameday.team.model import KubernetesSafety
from gameday.team.plugin import load_target_file
from gameday.team.target import TeamTarget

FILE = """monitoring:
  prometheus: {{url: "http://127.0.0.1:9090"}}
  alertmanager: {{url: "http://127.0.0.1:9093"}}
services:
  - name: shop
    url: "http://10.253.0.20:8001"
    probe: {{http: {{path: /health}}}}
    platform: {{kubernetes: {platform}}}
  - name: db
    probe: {{tcp: "127.0.0.1:5432"}}
safety:
  allow: [127.0.0.0/8, 10.253.0.0/24]
  faultable: [shop]
  kubernetes: {safety}
"""


def load(tmp_path: Path, platform: str = "{namespace: shop, kind: Deployment, name: shop}",
         safety: str = "{namespaces: [shop]}"):
    path = tmp_path / "targets" / "shop.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(FILE.format(platform=platform, safety=safety))
    return load_target_file(path)


def test_a_workload_by_kind_and_name_loads_and_takes_the_workload_kinds_only(tmp_path):
    target = TeamTarget(load(tmp_path), "targets/shop.yaml")
    for kind in ("pod-delete", "stop-service", "bad-rollout", "cpu-stress", "memory-stress"):
        assert target.faults.why_not(kind, "shop", "shop") is None, kind
    assert "only on shop" in target.faults.why_not("pod-delete", "shop", "db")
    for kind, said in (("kill-service", "pod-delete with grace_period 0"), ("node-drain", "past any bound"),
                       ("latency", "pod network"), ("pause-service", "cannot pause")):
        assert said in target.faults.why_not(kind, "shop", "shop"), kind


@pytest.mark.parametrize(("platform", "safety", "said"), [
    ("{namespace: kube-system, kind: Deployment, name: coredns}", "{namespaces: [kube-system]}",
     "services.shop.platform.kubernetes.namespace: 'kube-system' is the cluster's own"),
    ("{namespace: monitoring, kind: Deployment, name: shop}", "{namespaces: [monitoring]}",
     "'monitoring' is where the monitoring runs"),
    ("{namespace: prod, kind: Deployment, name: shop}", "{namespaces: [shop]}",
     "'prod' is not in safety.kubernetes.namespaces (allowed: shop)"),
    ("{namespace: shop, kind: Deployment, name: shop}", "{}",
     "'shop' is not in safety.kubernetes.namespaces (allowed: none)"),
    ("{namespace: shop, kind: Deployment}", "{namespaces: [shop]}", "kind and name together"),
    ("{namespace: shop}", "{namespaces: [shop]}", "or a label selector"),
    ("{namespace: shop, selector: 'app in (a,b)'}", "{namespaces: [shop]}", "services.0.platform.kubernetes.selector"),
    ("{namespace: shop, kind: Job, name: shop}", "{namespaces: [shop]}", "services.0.platform.kubernetes.kind"),
    ("{namespace: shop, in_cluster: true, kubeconfig: /x, selector: app=shop}", "{namespaces: [shop]}",
     "in_cluster uses the pod's service account"),
    ("{namespace: shop, selector: app=shop}", "{namespaces: [shop], max_pods: 0}", "safety.kubernetes.max_pods"),
])
def test_a_namespace_or_workload_a_fault_may_not_reach_is_one_line_naming_the_setting(tmp_path, platform, safety,
                                                                                        said):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, platform, safety)
    assert said in str(err.value) and "\n" not in str(err.value), str(err.value)
    assert str(err.value).startswith(str(tmp_path / "targets" / "shop.yaml"))


def test_a_protected_namespace_the_file_allows_loads(tmp_path):
    spec = load(tmp_path, "{namespace: monitoring, selector: app=shop}",
                "{namespaces: [monitoring], allow_protected: [monitoring]}")
    assert spec.services[0].platform.kubernetes.namespace == "monitoring"


def test_a_selector_matches_only_pods_with_every_term():
    ref = Ref("", "", "app=shop,tier=web")
    assert ref.matches({"app": "shop", "tier": "web", "x": "y"})
    assert not ref.matches({"app": "shop"}) and not ref.matches({"app": "shop", "tier": "db"}) and not ref.matches(None)
    assert not Ref("", "", "").matches({"app": "shop"}), "an empty selector matches nothing, never everything"


@pytest.mark.parametrize(("max_pods", "max_percent", "pods", "bound"), [
    (1, None, 10, 1), (2, None, 1, 2), (1, 30, 10, 3), (5, 30, 10, 5), (1, 50, 3, 1), (1, 100, 4, 4)])
def test_the_pods_bound_is_max_pods_or_the_share_where_that_allows_more(max_pods, max_percent, pods, bound):
    assert pods_bound(KubernetesSafety(max_pods=max_pods, max_percent=max_percent), pods) == bound


def _deployment(replicas, kind="RollingUpdate", unavailable=None):
    rolling = SimpleNamespace(max_unavailable=unavailable)
    return SimpleNamespace(spec=SimpleNamespace(replicas=replicas, strategy=SimpleNamespace(type=kind,
                                                                                              rolling_update=rolling)))


@pytest.mark.parametrize(("workload", "down"), [
    (_deployment(4), 1), (_deployment(1), 0), (_deployment(10, unavailable="50%"), 5),
    (_deployment(3, unavailable=2), 2), (_deployment(3, unavailable=7), 3), (_deployment(3, kind="Recreate"), 3)])
def test_a_bad_rollout_takes_down_what_its_strategy_lets_go(workload, down):
    assert down_in_rollout(workload) == down


def test_a_pod_delete_with_neither_count_nor_percent_deletes_one_pod_and_both_is_refused():
    assert PodDeleteFault(kind="pod-delete", target="shop").count == 1
    assert PodDeleteFault(kind="pod-delete", target="shop", percent=50).count is None
    with pytest.raises(ValueError, match="give count or percent, not both"):
        PodDeleteFault(kind="pod-delete", target="shop", count=1, percent=50)
