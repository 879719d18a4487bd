"""Every target implements the Target protocol whole, and each optional member it has is one the protocol
declares (``gameday.target.protocol.OPTIONAL``), so the engine reads no member it does not know of."""

from __future__ import annotations

import ast
import inspect
import typing

import pytest

from gameday.compose.stack import ComposeStack
from gameday.k8s.stack import K8sStack
from gameday.lab.stack import Lab
from gameday.target.protocol import OPTIONAL, Target, load_pool, optional
from gameday.team.target import TeamTarget


def members_of(cls: type) -> set[str]:
    """What instances of ``cls`` have: class attributes and methods, and what any method sets on ``self``."""
    names = {n for klass in cls.__mro__ if klass is not object for n in vars(klass)}
    for klass in cls.__mro__:
        if klass is object or klass.__module__.startswith(("builtins", "abc")):
            continue
        try:
            tree = ast.parse(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            names |= {t.attr for t in targets if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                      and t.value.id == "self"}
    return names


def protocol_members() -> set[str]:
    hints = set(typing.get_type_hints(Target, include_extras=False))
    methods = {n for n, v in vars(Target).items() if callable(v) and not n.startswith("_")}
    return hints | methods


@pytest.mark.parametrize("cls", [Lab, ComposeStack, K8sStack, TeamTarget], ids=["lab", "compose", "k8s", "team"])
def test_every_target_implements_the_protocol_whole(cls):
    assert protocol_members() - members_of(cls) == set()
    assert callable(getattr(cls, "__enter__", None)) and callable(getattr(cls, "__exit__", None))


@pytest.mark.parametrize("cls", [Lab, ComposeStack], ids=["lab", "compose"])
def test_the_optional_members_a_target_has_are_declared(cls):
    has = members_of(cls) & set(OPTIONAL)
    assert has, "each built-in target has some of the optional members"
    assert {"reset_alerting", "when_serving"} <= has


def test_a_teams_target_says_where_it_may_reach_and_how_far_it_proves_pages():
    has = members_of(TeamTarget) & set(OPTIONAL)
    assert {"reach", "pages", "started_in"} <= has
    assert not {"reset_alerting", "when_serving"} & has, "a team's monitoring is never the harness's to restart"


def test_a_member_nobody_declared_is_refused():
    with pytest.raises(AttributeError, match="not a declared optional member"):
        optional(object(), "reboot_the_cluster")
    assert optional(object(), "diagnose") is None


def test_a_drills_locust_workers_are_the_targets_pool_where_it_has_one_and_local_processes_else():
    class WithPool:
        def load_workers(self):
            return "the cluster's pool"

    assert load_pool(WithPool(), 2) == "the cluster's pool"
    assert load_pool(WithPool(), 0) is None, "no workers asked for: one Locust process"
    assert load_pool(object(), 2) is None, "a target without a pool: local worker processes"
    assert {"load_workers", "reset_alerting", "reach"} <= members_of(K8sStack) & set(OPTIONAL)
    assert "fault_refusal" in members_of(TeamTarget) & set(OPTIONAL)
