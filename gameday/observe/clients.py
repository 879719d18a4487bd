"""Read the monitoring stack over its HTTP APIs: Prometheus rules and alerts, Alertmanager status."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gameday.core.clock import parse_rfc3339
from gameday.core.durations import parse_ms
from gameday.core.errors import ConfigError, StackUnreachable


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # loopback only: never route through a proxy from the environment
    return s


_PROBE = _session()


def probe(url: str, method: str = "GET", json: Any = None, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 200; any connection error or other status is False."""
    try:
        return _PROBE.request(method, url, json=json, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def _why(exc: requests.RequestException, timeout: float) -> str:
    """A request's failure in a few words."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_refusal(exc)
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or reset"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        try:  # Prometheus says what it refused (a query that does not parse, a bad parameter)
            said = exc.response.json().get("error")
        except (ValueError, AttributeError):
            said = None
        return f"HTTP {exc.response.status_code}" + (f": {' '.join(str(said).split())[:300]}" if said else "")
    return type(exc).__name__


def tls_refusal(exc: Exception) -> str:
    """Why a TLS handshake failed, in a few words (OpenSSL's reason, such as a certificate no CA given signed, or
    one for another name)."""
    text = str(exc)
    found = re.search(r"\[SSL: [A-Z_]+\] ([^(']+)", text) or re.search(r"(hostname '[^']+' doesn't match [^)'\"]+)",
                                                                       text)
    return "TLS: " + (found.group(1).strip().rstrip(".") if found else "the handshake failed")


def _secret(name: str) -> str | None:
    """``$NAME``, or the first line of the file ``$NAME_FILE``; never logged or written anywhere."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            raise ConfigError(path, f"${name}_FILE", exc.strerror or "unreadable") from None
    return None


def authenticate(session: requests.Session, component: str) -> None:
    """Credentials for a Prometheus or Alertmanager that asks for them, from the environment or files:
    ``GAMEDAY_<COMPONENT>_BEARER_TOKEN`` or ``GAMEDAY_<COMPONENT>_BASIC_AUTH`` (``user:password``), each also
    as ``..._FILE`` naming a file that holds it."""
    prefix = f"GAMEDAY_{component.upper()}"
    if token := _secret(f"{prefix}_BEARER_TOKEN"):
        session.headers["Authorization"] = f"Bearer {token}"
    elif basic := _secret(f"{prefix}_BASIC_AUTH"):
        user, _, password = basic.partition(":")
        session.auth = (user, password)


class _Api:
    name = "api"

    def __init__(self, base_url: str, timeout: float = 2.0, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        prefix = f"GAMEDAY_{self.name.upper()}"
        self.credentials = (f"give it credentials in {prefix}_BASIC_AUTH or {prefix}_BEARER_TOKEN (or ..._FILE)"
                            if session is None else "check the credentials its target file names")
        """What to do when it refuses the harness's credentials."""
        self.tls_hint = ("check the CA file and server name its target file names" if session is not None else
                         "the harness's own stack serves plain HTTP")
        """What to do when its TLS certificate is not accepted."""
        if session is None:  # a stack the harness runs: credentials, where it asks for them, from the environment
            session = _session()
            authenticate(session, self.name)
        self._http = session
        """A team's stack brings its own: its credentials, headers and TLS, as its target file says."""

    def _get(self, path: str, **params: Any) -> Any:
        url = f"{self.base_url}{path}"
        try:
            resp = self._http.get(url, params=params or None, timeout=self.timeout)
            resp.raise_for_status()
        except requests.RequestException as exc:
            raise StackUnreachable(f"{self.name} at {self.base_url} did not answer {path}: {_why(exc, self.timeout)}"
                                   ) from None
        return resp.json()

    def _families(self, part: str) -> Any:
        """The metric families of the server's own ``/metrics`` whose lines (with their HELP and TYPE lines) hold
        ``part``: only those are parsed, since the whole exposition costs a few ms of CPU a look. A counter's
        family is named without ``_total``."""
        try:
            resp = self._http.get(f"{self.base_url}/metrics", timeout=self.timeout)
            resp.raise_for_status()
        except requests.RequestException as exc:
            raise StackUnreachable(f"{self.name} at {self.base_url} did not answer /metrics: "
                                   f"{_why(exc, self.timeout)}") from None
        mine = "\n".join(line for line in resp.text.splitlines() if part in line)
        return text_string_to_metric_families(mine + "\n")

    def metric(self, name: str) -> float | None:
        """The sum of one of the server's own metrics (a gauge, or a counter by its ``_total`` name); None when
        it has none."""
        for family in self._families(name):
            if family.name == name.removesuffix("_total"):
                return sum(s.value for s in family.samples if not s.name.endswith("_created"))
        return None

    def ready(self) -> bool:
        """True when it answers ``/-/ready``; a refusal of the harness's credentials is an error at once."""
        try:
            code = self._http.get(f"{self.base_url}/-/ready", timeout=self.timeout).status_code
        except requests.exceptions.SSLError as exc:  # a certificate does not become trusted by waiting
            raise StackUnreachable(f"{self.name} at {self.base_url} was not trusted: {tls_refusal(exc)}: "
                                   f"{self.tls_hint}") from None
        except requests.RequestException:
            return False
        if code in (401, 403):
            raise StackUnreachable(f"{self.name} at {self.base_url} refused the harness (HTTP {code}): "
                                   f"{self.credentials}")
        return code == 200


@dataclass(frozen=True)
class Rule:
    name: str
    query: str
    for_s: float
    labels: dict[str, str]
    annotations: dict[str, str]
    group_interval_s: float


@dataclass(frozen=True)
class ActiveAlert:
    name: str
    state: str
    labels: dict[str, str]
    active_at: float | None
    """Wall seconds when the alert went pending."""


class Prometheus(_Api):
    name = "Prometheus"

    def _data(self, path: str, **params: Any) -> Any:
        body = self._get(path, **params)
        if body.get("status") != "success":
            raise StackUnreachable(f"Prometheus {path}: {body.get('error', body)}")
        return body["data"]

    def alerting_rules(self) -> dict[str, Rule]:
        out: dict[str, Rule] = {}
        for group in self._data("/api/v1/rules", type="alert")["groups"]:
            for r in group["rules"]:
                out[r["name"]] = Rule(r["name"], r["query"], float(r.get("duration", 0)), r.get("labels", {}),
                                      r.get("annotations", {}), float(group["interval"]))
        return out

    def rule_groups(self) -> list[dict[str, Any]]:
        """Every rule group as ``/api/v1/rules`` gives it: ``name``, ``file``, ``interval`` (seconds), ``rules``."""
        return list(self._data("/api/v1/rules")["groups"])

    def config(self) -> dict[str, Any]:
        """The configuration Prometheus runs (``/api/v1/status/config``), secrets shown as ``<secret>``."""
        return dict(yaml.safe_load(self._data("/api/v1/status/config")["yaml"]) or {})

    def active_targets(self) -> list[dict[str, Any]]:
        """Each target it scrapes now: ``scrapePool``, ``scrapeUrl``, ``labels``, ``health`` ..."""
        return list(self._data("/api/v1/targets", state="active")["activeTargets"])

    def recording_rules(self) -> dict[str, str]:
        """Each recording rule's name and expression."""
        return {r["name"]: r["query"] for group in self._data("/api/v1/rules", type="record")["groups"]
                for r in group["rules"]}

    def alerts(self) -> list[ActiveAlert]:
        return [ActiveAlert(a["labels"].get("alertname", ""), a["state"], a["labels"],
                            parse_rfc3339(a["activeAt"]) if a.get("activeAt") else None)
                for a in self._data("/api/v1/alerts")["alerts"]]

    def version(self) -> str:
        return str(self._data("/api/v1/status/buildinfo").get("version", "?"))

    def scrape_interval(self) -> float:
        """The global scrape interval of the configuration Prometheus runs, in seconds."""
        config = self.config()
        return parse_ms(str(config.get("global", {}).get("scrape_interval", "1m"))) / 1000

    def targets_up(self) -> dict[str, bool]:
        return {t["labels"].get("job", "?"): t["health"] == "up" for t in self.active_targets()}

    def alertmanagers(self) -> list[str]:
        return [a["url"] for a in self._data("/api/v1/alertmanagers")["activeAlertmanagers"]]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's rows (``/api/v1/query``): a vector's series (``metric``, ``value``), a range's
        (``metric``, ``values``), or a scalar's or string's one ``[time, value]``; empty when it returns nothing."""
        data = self._data("/api/v1/query", query=expr)
        if data.get("resultType") in ("vector", "matrix"):
            return list(data["result"])
        return [data["result"]] if data["result"] else []

    def started(self) -> float:
        """Wall seconds when this Prometheus process started."""
        return parse_rfc3339(self._data("/api/v1/status/runtimeinfo")["startTime"])


@dataclass(frozen=True)
class AlertGroup:
    """An aggregation group that holds active alerts, as ``/api/v2/alerts/groups`` lists it."""

    labels: dict[str, str]
    receiver: str
    alerts: list[str]
    """Names of the group's active alerts."""


class Alertmanager(_Api):
    name = "Alertmanager"

    def groups(self) -> list[AlertGroup]:
        """Groups with active alerts; a group whose alerts have all resolved is not listed, though it may linger."""
        return [AlertGroup(g.get("labels", {}), g.get("receiver", {}).get("name", ""),
                           [a.get("labels", {}).get("alertname", "") for a in g.get("alerts", [])])
                for g in self._get("/api/v2/alerts/groups")]

    def active_alerts(self, name: str) -> list[dict[str, Any]]:
        """The alerts named ``name`` that Alertmanager holds active now (silenced and inhibited ones too), as
        ``/api/v2/alerts`` lists them: ``fingerprint``, ``startsAt``, ``labels``, ``receivers``, ``status``."""
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        body = self._get("/api/v2/alerts", filter=f"alertname={quoted}")
        return [a for a in body if isinstance(a, dict)] if isinstance(body, list) else []

    def aggregation_groups(self) -> int | None:
        """Every aggregation group the dispatcher holds, empty ones included; None when the metric is absent."""
        total = self.metric("alertmanager_dispatcher_aggregation_groups")
        return None if total is None else int(total)

    def failed_deliveries(self) -> int | None:
        """Notification attempts that failed since Alertmanager started (each is retried after a back-off that
        starts near 0.5 s); None when the metric is absent."""
        total = self.metric("alertmanager_notification_requests_failed_total")
        return None if total is None else int(total)

    def notification_counters(self) -> dict[tuple[str, str], tuple[float, float]]:
        """Notifications Alertmanager has sent and failed since it started, per (receiver, integration); the
        receiver is ``""`` where Alertmanager does not label its counters with it (``receiver-name-in-metrics``,
        0.27 and later)."""
        out: dict[tuple[str, str], list[float]] = {}
        for family in self._families("alertmanager_notifications_"):
            column = {"alertmanager_notifications": 0, "alertmanager_notifications_failed": 1}.get(family.name)
            if column is None:
                continue
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                key = (sample.labels.get("receiver_name", ""), sample.labels.get("integration", ""))
                out.setdefault(key, [0.0, 0.0])[column] += sample.value
        return {k: (v[0], v[1]) for k, v in out.items()}

    def config(self) -> dict[str, Any]:
        return yaml.safe_load(self._get("/api/v2/status")["config"]["original"])

    def version(self) -> str:
        return str(self._get("/api/v2/status").get("versionInfo", {}).get("version", "?"))

    def receivers(self) -> list[str]:
        return [r["name"] for r in self._get("/api/v2/receivers")]

    def started(self) -> float:
        """Wall seconds when this Alertmanager process started."""
        return parse_rfc3339(self._get("/api/v2/status")["uptime"])
