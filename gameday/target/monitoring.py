"""The monitoring config as a stack the harness owns runs it: rules, Prometheus and Alertmanager rendered
from ``config/`` with addresses filled in, every duration divided by the time scale, and checked by
Prometheus's own tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from string import Template
from typing import Any

import yaml

from gameday.core.durations import seconds
from gameday.core.errors import ConfigError
from gameday.pipeline.timescale import RuleError, scale_alertmanager, scale_prometheus, scale_rules
from gameday.scenario.inputs import read_text_bounded


def render_monitoring(config_dir: Path, rules_dir: Path, out: Path, scale: float, addrs: dict[str, str],
                      webhook: str, runbooks: str, rules_seen_at: str | None = None,
                      webhook_secret: str | None = None) -> dict[str, Path]:
    """Write the rules, ``prometheus.yml`` and ``alertmanager.yml`` into ``out``; return their paths.

    ``addrs`` fills ``${gateway}``, ``${backend}`` and ``${alertmanager}`` in the Prometheus config;
    ``webhook`` is the receiver's base URL, and every webhook to it carries ``webhook_secret`` as a bearer token
    (``alertmanager.yml`` is then readable by its owner only); ``rules_seen_at`` is where Prometheus will find
    the rules folder (a container's mount point), by default where it is written.
    """
    rules_out = out / "rules"
    shutil.rmtree(out, ignore_errors=True)
    rules_out.mkdir(parents=True)
    rule_files = sorted([*rules_dir.glob("*.yml"), *rules_dir.glob("*.yaml")])
    if not rule_files:
        raise ConfigError(str(rules_dir), "(directory)", "holds no rule files (*.yml)")
    for src in rule_files:
        doc = load_yaml_template(src, {"runbooks": runbooks})
        try:
            scaled = scale_rules(doc, scale)
        except RuleError as exc:
            raise ConfigError(str(src), exc.field, exc.reason) from None
        except (AttributeError, TypeError) as exc:
            raise ConfigError(str(src), "groups", f"not a Prometheus rule file: {exc}") from None
        (rules_out / (src.stem + ".yml")).write_text(yaml.safe_dump(scaled, sort_keys=False))
    check_with("promtool", ["check", "rules", *sorted(str(p) for p in rules_out.glob("*.yml"))],
               str(rules_dir), "rules")
    prom = scale_prometheus(load_yaml_template(config_dir / "prometheus" / "prometheus.yml",
                                               {**addrs, "rules_dir": rules_seen_at or str(rules_out)}), scale)
    am_source = config_dir / "alertmanager" / "alertmanager.yml"
    am = scale_alertmanager(load_yaml_template(am_source, {"webhook": webhook}), scale)
    if webhook_secret is not None:
        sign_webhooks(am, webhook, webhook_secret, str(am_source))
    paths = {"prometheus": out / "prometheus.yml", "alertmanager": out / "alertmanager.yml", "rules": rules_out}
    paths["prometheus"].write_text(yaml.safe_dump(prom, sort_keys=False))
    fd = os.open(paths["alertmanager"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as am_out:
        am_out.write(yaml.safe_dump(am, sort_keys=False))
    check_with("amtool", ["check-config", str(paths["alertmanager"])],
               str(config_dir / "alertmanager" / "alertmanager.yml"), "route/receivers")
    return paths


def sign_webhooks(am: dict[str, Any], webhook: str, secret: str, source: str) -> int:
    """Give every webhook to the harness's receiver the run's secret as its bearer token; return how many.

    A config whose webhooks to the receiver already set credentials of their own is refused: the receiver
    would refuse their pages.
    """
    signed = 0
    base = webhook.rstrip("/")
    for receiver in am.get("receivers") or []:
        for hook in (receiver or {}).get("webhook_configs") or []:
            if not str(hook.get("url", "")).startswith(base):
                continue
            http = hook.setdefault("http_config", {})
            if any(k in http for k in ("authorization", "basic_auth", "bearer_token", "bearer_token_file", "oauth2")):
                raise ConfigError(source, f"receivers/{receiver.get('name')}/webhook_configs/http_config",
                                  "sets credentials of its own for the harness's receiver, which takes only the "
                                  "run's secret: remove them")
            http["authorization"] = {"type": "Bearer", "credentials": secret}
            signed += 1
    return signed


def load_yaml_template(path: Path, values: dict[str, str]) -> dict[str, Any]:
    """A YAML mapping from ``path`` after ``${name}`` substitution; one ``ConfigError`` line otherwise."""
    try:
        text = Template(read_text_bounded(path)).safe_substitute(values)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(str(path), "(file)", exc.strerror or str(exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "(file)", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "expected a mapping")
    return data


def check_with(tool: str, args: list[str], source: str, field: str) -> None:
    """Run Prometheus's own checker on a rendered config; its complaint becomes one line."""
    binary = shutil.which(tool)
    if not binary:
        return
    res = subprocess.run([binary, *args], capture_output=True, text=True)
    if res.returncode != 0:
        lines = [ln.strip() for ln in (res.stdout + res.stderr).splitlines()]
        chatter = ("Checking ", "SUCCESS")  # what it says of the files that were fine
        first = next((i for i, ln in enumerate(lines) if "FAILED" in ln), 0)
        own = f"{tool}: error: failed to validate"  # its closing summary, which says no more than FAILED did
        wanted = [ln.split("FAILED:", 1)[-1].strip() for ln in lines[first:]
                  if ("FAILED" in ln or not ln.startswith(chatter)) and not ln.startswith(own)]
        detail = " ".join(" ".join(wanted).split()) or " ".join(" ".join(lines).split())
        raise ConfigError(source, field, f"{tool} {args[0]} failed: {detail}")


def load_stack_settings(config_dir: Path, services: tuple[str, ...]) -> dict[str, Any]:
    """``lab.yaml``: each service's restart delay and Prometheus's resend delay, checked; one line when unreadable."""
    path = config_dir / "lab.yaml"
    try:
        data = yaml.safe_load(read_text_bounded(path))
        for name in services:
            seconds(data["services"][name]["restart_delay"])
        seconds(data["prometheus"]["resend_delay"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(str(path), "services/prometheus", f"unreadable lab settings: {exc}") from None
    return data
