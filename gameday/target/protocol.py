"""What a drill runs against: a target, with its services, its monitoring stack and the faults it can take.

The drill, preflight and the assertions speak only to this protocol. The embedded lab
(``gameday.lab.target``) and the Compose stack (``gameday.compose.target``) implement it, and
each is a pytest plugin that answers the ``pytest_gameday_make_target`` hook for its name; a
team's own plugin can add a target the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from gameday.faults.base import Fault
from gameday.faults.ledger import Ledger
from gameday.observe.clients import Alertmanager, Prometheus, probe
from gameday.observe.receiver import Deliveries

FaultBuilder = Callable[[Any, Any, "float | None", "Ledger | None"], Fault]
"""(target, the scenario's fault spec, its duration on the drill clock, the ledger) -> a fault ready to inject."""


@dataclass(frozen=True)
class SliProbe:
    """The user's view of a service: one request that must answer 200."""

    service: str
    method: str = "GET"
    path: str = "/health"
    body: Any = None
    timeout: float = 2.0

    def check(self, base_url: str) -> bool:
        return probe(f"{base_url}{self.path}", self.method, json=self.body, timeout=self.timeout)


@dataclass
class FaultKinds:
    """The fault kinds a target can take, by the scenario's ``fault.kind``, and why others are missing."""

    builders: dict[str, FaultBuilder] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    """kind -> the reason this target cannot do it (shown in preflight)."""
    aims: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    """kind -> (the only services it can aim at here, why): e.g. the lab adds latency on the backend's link only."""

    def build(self, target: Any, spec: Any, duration: float | None, ledger: Ledger | None) -> Fault:
        return self.builders[spec.kind](target, spec, duration, ledger)

    def why_not(self, kind: str, target_name: str, service: str | None = None) -> str | None:
        if kind in self.builders:
            services, why = self.aims.get(kind, ((), ""))
            if service is not None and services and service not in services:
                return f"the {target_name} target can do fault kind {kind!r} only on {', '.join(services)}: {why}"
            return None
        reason = self.missing.get(kind, "not one of its fault kinds")
        return (f"the {target_name} target cannot do fault kind {kind!r}: {reason} "
                f"(it can do: {', '.join(sorted(self.builders))})")


@runtime_checkable
class Target(Protocol):
    """A system under test with the monitoring stack that watches it."""

    name: str
    """``lab``, ``compose`` or a plugin's own."""
    owns_monitoring: bool
    """The harness renders the stack's Prometheus and Alertmanager config, so a time scale is allowed."""
    created_by_run: bool
    """This run created the system under test (it was not up before), so it has no users and no error budget
    of anyone's to protect; the error-budget gate applies where this is False."""
    prometheus: Prometheus
    alertmanager: Alertmanager
    receiver: Deliveries
    """The harness's page sink: Alertmanager's webhooks arrive here."""
    alerting_epoch: float
    """``time.monotonic()`` when Prometheus and Alertmanager last started with no alert state."""
    faults: FaultKinds
    sli: SliProbe

    def services(self) -> list[str]:
        """Services of the system under test that a fault may aim at (never the monitoring stack)."""
        ...

    def url(self, service: str) -> str:
        """The base URL of ``service``, as the harness reaches it (on loopback)."""
        ...

    def is_running(self, service: str) -> bool: ...

    def last_started(self, service: str) -> float | None:
        """``time.monotonic()`` of the service's last (re)start, as its platform saw it."""
        ...

    def allowlist(self) -> list[str]:
        """Every URL the harness will send load or probes to; each must be on loopback."""
        ...

    def sli_healthy(self) -> bool:
        """The user's view: the target's SLI probe answers."""
        ...

    def runbook_env(self) -> dict[str, str]:
        """The environment the runbooks document for this target (``GATEWAY``, ``PROMETHEUS`` ...): what a
        runbook's drilled mitigation (``recovery: runbook``) runs with."""
        ...


OPTIONAL: dict[str, str] = {
    "when_serving": "a callable (target) -> None, called once as soon as its services answer, while its monitoring "
                    "still gets ready (the plugin starts the session's Locust there)",
    "reset_alerting": "a callable () -> None that restarts Prometheus and Alertmanager with no alert state, where "
                      "the harness owns them: a drill then needs not wait out an earlier incident's group",
    "diagnose": "a callable () -> str | None: what the platform says of a monitoring stack that stopped answering "
                "(a container the engine stopped), put before the ERROR's line",
    "trainee_actions": "a callable (since) -> list: what a trainee did on the target during a shadow exercise "
                       "(the lab's control calls, the engine's container events)",
    "quiet_where_live": "a callable (alerts) -> bool: True when the stack the target's alerting copies (a team's, "
                        "for a shadow pair) holds none of them pending or firing, with its rules as they are: such "
                        "an alert firing here before any fault is the copy's doing",
    "fresh_alerting": "a callable (config_dir | None) -> seconds: alerting as on a target just started, with that "
                      "config folder's where given (``gameday mutate``'s sessions)",
    "attached": "True when the target is one another process keeps up (a warm lab): said in the header",
    "started_in": "the seconds the target took to get ready, said when it is",
    "config": "an object whose ``config_dir`` is the monitoring config folder the target runs (for the plots' "
              "panels); the project's ``config/`` when absent",
    "reach": "a ``gameday.target.allowlist.Reach``: the networks load, probes and reads may go to, and the setting "
             "that allows them (loopback only when absent)",
    "pages": "a dict: ``level`` (routed, attempted or delivered) and ``how`` (what proves a page at that level), "
             "and ``more`` where a setting would prove a higher level (said when a scenario's ``pages`` needs it); "
             "delivered to the harness's own receiver when absent",
    "warnings": "a list of lines every report of every drill on it must carry (a team's server whose TLS "
                "certificate is not checked): each a caution in the journal, the console, JUnit, Allure and the "
                "review",
    "clock_skew": "a dict: each monitoring server's clock minus the harness's, in seconds (``prometheus``, "
                  "``alertmanager``); an alert's startsAt is corrected by Prometheus's; none where the harness runs "
                  "the stack on this machine's clock",
    "load_workers": "a callable () -> a pool of Locust workers where the target runs them (``start(count, port, "
                    "files)``, ``gone()``, ``stop()``, ``bind_host``: the k8s target's Deployment in its cluster); "
                    "a scenario's ``load.workers`` are local processes when absent",
    "fault_refusal": "a callable (the scenario's fault spec) -> str | None: why that fault must not run on this "
                     "target (a team's blast radius: more pods than its file allows), one line, said in preflight "
                     "before any fault",
}
"""The members a target may have beyond the protocol's, and what each is for. They are read only through
``optional``, which refuses a name not declared here."""

OPTIONAL_OF_STACK: dict[str, str] = {
    "receiver.rejections": "a callable (since) -> list of refused POSTs (``gameday.observe.receiver.Rejection``)",
    "alertmanager.failed_deliveries": "a callable () -> int | None: Alertmanager's failed notification attempts",
}
"""Optional members of a target's receiver and Alertmanager client, read through ``optional`` as
``optional(target.receiver, "rejections")``."""


LOOPBACK_PAGES = {"level": "delivered", "how": "the harness's own receiver, in the Alertmanager config the harness "
                                              "renders, with the run's secret"}


def reach_of(target: Any) -> Any:
    """Where the harness may send for this target (``gameday.target.allowlist.Reach``): loopback by default."""
    from gameday.target.allowlist import LOOPBACK_ONLY

    return optional(target, "reach", LOOPBACK_ONLY)


def load_pool(target: Any, workers: int) -> Any:
    """Where a drill's ``workers`` Locust workers run: the target's own pool, or None for local processes."""
    make = optional(target, "load_workers") if workers else None
    return make() if make is not None else None


def pages_of(target: Any) -> dict[str, str]:
    """How far this target proves a page, and by what."""
    return dict(optional(target, "pages", LOOPBACK_PAGES))


def optional(obj: Any, name: str, default: Any = None) -> Any:
    """A declared optional member of a target (or of its receiver or Alertmanager client), or ``default``."""
    declared = name in OPTIONAL or any(key.endswith(f".{name}") for key in OPTIONAL_OF_STACK)
    if not declared:
        raise AttributeError(f"{name!r} is not a declared optional member of a gameday target "
                             "(gameday.target.protocol.OPTIONAL)")
    return getattr(obj, name, default)
