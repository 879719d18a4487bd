"""The team's alerting read from its live servers and written as a config folder of the lab's layout, for the
shadow pair (``gameday.team.mirror``) that ``gameday mutate --target NAME`` drills each mutant on.

Read, never written: Prometheus's ``/api/v1/rules`` (each group's rules, as it evaluates them),
``/api/v1/status/config`` (its intervals, external labels and each scrape job's own settings) and
``/api/v1/targets`` (what it scrapes now, with each target's final labels); Alertmanager's ``/api/v2/status``
(the route tree, inhibitions and time intervals it runs). What is written:

- ``prometheus/rules/*.yml``: one file per rule file of the team's, with every group's interval, ``for`` and
  labels as Prometheus holds them;
- ``prometheus/prometheus.yml``: the team's global intervals and external labels, and a static job per scrape
  pool holding its targets with their labels (a team's service discovery is read as what it found now), each
  target inside ``safety.allow`` only; the pair's Alertmanager as ``${alertmanager}``;
- ``alertmanager/alertmanager.yml``: the team's route tree, inhibit rules and time intervals, every receiver
  kept by name with gameday's webhook (``${webhook}/NAME``) as its only integration: a page of the pair reaches
  nobody but the harness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from gameday.core.errors import ConfigError, TargetNotAllowed

JOB_KEEP = ("honor_labels", "honor_timestamps", "params", "scrape_interval", "scrape_timeout",
            "metric_relabel_configs", "sample_limit", "label_limit")
"""A scrape job's settings the pair keeps (its discovery, relabelling of targets and credentials it does not:
the targets come with their final labels, and a job that needs credentials is left out)."""
AM_KEEP = ("route", "inhibit_rules", "time_intervals", "mute_time_intervals")


def _dollars(text: str) -> str:
    """The folder's files are ``${name}`` templates: a ``$`` of the team's own stays one."""
    return text.replace("$", "$$")


def _rule(r: dict[str, Any]) -> dict[str, Any]:
    if r.get("type") == "recording":
        out: dict[str, Any] = {"record": r["name"], "expr": r["query"]}
    else:
        out = {"alert": r["name"], "expr": r["query"]}
        if float(r.get("duration") or 0):
            out["for"] = f"{float(r['duration']):g}s"
        if float(r.get("keepFiringFor") or 0):
            out["keep_firing_for"] = f"{float(r['keepFiringFor']):g}s"
    if r.get("labels"):
        out["labels"] = dict(r["labels"])
    if r.get("annotations"):
        out["annotations"] = dict(r["annotations"])
    return out


def write_rules(groups: list[dict[str, Any]], rules_dir: Path) -> int:
    """The groups, one file per rule file of the team's (its stem); how many alerting rules."""
    files: dict[str, list[dict[str, Any]]] = {}
    alerts = 0
    for g in groups:
        stem = Path(str(g.get("file") or "rules")).stem or "rules"
        group: dict[str, Any] = {"name": g["name"]}
        if g.get("interval"):
            group["interval"] = f"{float(g['interval']):g}s"
        group["rules"] = [_rule(r) for r in g.get("rules") or []]
        alerts += sum(1 for r in group["rules"] if "alert" in r)
        files.setdefault(stem, []).append(group)
    rules_dir.mkdir(parents=True, exist_ok=True)
    for stem, file_groups in files.items():
        (rules_dir / f"{stem}.yml").write_text(_dollars(yaml.safe_dump({"groups": file_groups}, sort_keys=False)))
    return alerts


def scrape_jobs(targets: list[dict[str, Any]], config: dict[str, Any], allowed: Any
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """A static job per scrape pool, with its targets inside ``allowed`` (a ``Reach``); the lines saying what
    was left out and why."""
    own = {str(j.get("job_name")): j for j in config.get("scrape_configs") or []}
    jobs: dict[str, dict[str, Any]] = {}
    left: list[str] = []
    for t in targets:
        pool, url = str(t.get("scrapePool", "")), urlsplit(str(t.get("scrapeUrl", "")))
        settings = own.get(pool, {})
        if settings.get("authorization") or settings.get("basic_auth") or settings.get("oauth2") \
                or settings.get("bearer_token") or settings.get("bearer_token_file"):
            left.append(f"scrape job {pool}: it scrapes with credentials the pair does not have: left out")
            continue
        try:
            allowed.check(f"{url.scheme}://{url.netloc}")
        except TargetNotAllowed as exc:
            left.append(f"scrape job {pool}: {exc}: left out")
            continue
        job = jobs.setdefault(pool, {"job_name": pool, "scheme": url.scheme or "http",
                                     "metrics_path": url.path or "/metrics",
                                     **{k: settings[k] for k in JOB_KEEP if k in settings}, "static_configs": []})
        if url.scheme == "https":  # the team's CA is its scrape config's; the pair reads only what it can check
            job["tls_config"] = {k: v for k, v in (settings.get("tls_config") or {}).items()
                                 if k in ("ca_file", "server_name")}
        labels = {k: v for k, v in (t.get("labels") or {}).items() if not k.startswith("__")}
        job["static_configs"].append({"targets": [url.netloc], "labels": labels})
    return list(jobs.values()), left


def prometheus_config(config: dict[str, Any], jobs: list[dict[str, Any]]) -> dict[str, Any]:
    glob = {k: v for k, v in (config.get("global") or {}).items()
            if k in ("scrape_interval", "scrape_timeout", "evaluation_interval", "external_labels")}
    return {"global": glob, "rule_files": ["${rules_dir}/*.yml"],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["${alertmanager}"]}]}]},
            "scrape_configs": jobs}


def alertmanager_config(original: dict[str, Any], shown: str) -> dict[str, Any]:
    """The team's routing with every receiver gameday's webhook alone."""
    if not isinstance(original.get("route"), dict):
        raise ConfigError(shown, "alertmanager /api/v2/status", "the live config has no route tree")
    out = {k: original[k] for k in AM_KEEP if k in original}
    if "resolve_timeout" in (original.get("global") or {}):
        out["global"] = {"resolve_timeout": original["global"]["resolve_timeout"]}
    out["receivers"] = [{"name": r["name"], "webhook_configs": [{"url": f"${{webhook}}/{r['name']}",
                                                                  "send_resolved": True}]}
                        for r in original.get("receivers") or [] if isinstance(r, dict) and r.get("name")]
    return out


def read_alerting(prometheus: Any, alertmanager: Any, allowed: Any, dest: Path, shown: str) -> list[str]:
    """Write the team's alerting as its live servers run it into ``dest`` (module docstring); lines saying what
    was read and what was left out."""
    groups = prometheus.rule_groups()
    config = prometheus.config()
    jobs, left = scrape_jobs(prometheus.active_targets(), config, allowed)
    original = alertmanager.config()
    alerts = write_rules(groups, dest / "prometheus" / "rules")
    if not alerts:
        raise ConfigError(shown, "prometheus /api/v1/rules", "the team's Prometheus has no alerting rule to mutate")
    (dest / "prometheus" / "prometheus.yml").write_text(_dollars(yaml.safe_dump(
        prometheus_config(config, jobs), sort_keys=False)).replace("$${rules_dir}", "${rules_dir}")
        .replace("$${alertmanager}", "${alertmanager}"))
    am = alertmanager_config(original, shown)
    (dest / "alertmanager").mkdir(parents=True, exist_ok=True)
    (dest / "alertmanager" / "alertmanager.yml").write_text(
        _dollars(yaml.safe_dump(am, sort_keys=False)).replace("$${webhook}", "${webhook}"))
    targets = sum(len(sc["targets"]) for j in jobs for sc in j["static_configs"])
    return [f"read from {prometheus.base_url}: {alerts} alerting rule(s) in {len(groups)} group(s), {len(jobs)} "
            f"scrape job(s) with {targets} target(s); from {alertmanager.base_url}: the route tree and "
            f"{len(am['receivers'])} receiver(s), each now gameday's webhook alone", *left]
