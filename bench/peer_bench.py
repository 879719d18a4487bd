"""A peer side by side: gameday and Chaos Toolkit on the same lab, with the same fault, in one run.

The fault is the P0 ``service-outage``: the inference gateway is killed with SIGKILL and its supervisor
brings it back after the fault's hold (75 s, scaled). Both tools run against one embedded lab at the same
time scale, one after the other, each after a clean slate (Prometheus and Alertmanager restarted):

- gameday runs the scenario as a drill (baseline load, preflight, steady state, the fault, the wait for
  the alert and its page at the receiver, recovery, the resolved page);
- Chaos Toolkit (its own virtualenv under ``reports/peer/``, with ``chaostoolkit``,
  ``chaostoolkit-prometheus`` and ``jsonpath2``) runs an experiment written the way its documentation
  shows: a steady-state hypothesis (the gateway answers, Prometheus sees it up), the kill as a process
  action, then a fixed pause as long as the SLA (it has no way to wait until an alert fires), then probes
  of Prometheus (is ``ServiceDown`` firing?) and of Alertmanager (is the alert active, routed to
  ``pager``?), and the hypothesis again.

For each tool, in the same run: its wall time; whether it could assert that the page reached the right
receiver within the SLA; the detection time it reports. The figures are what each tool itself reports:
the harness reads gameday's journal and Chaos Toolkit's journal (``journal.json``).

Run: .venv/bin/python bench/peer_bench.py [--scale 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gameday.core.durations import human  # noqa: E402
from gameday.drill.runner import Drill, DrillContext  # noqa: E402
from gameday.lab.stack import GATEWAY, Lab, LabConfig  # noqa: E402
from gameday.scenario.loading import load_scenario  # noqa: E402

PEER = ROOT / "reports" / "peer" / "ctk-venv"
PACKAGES = ["chaostoolkit", "chaostoolkit-prometheus", "jsonpath2"]


def ctk() -> Path:
    """The ``chaos`` command of Chaos Toolkit's own virtualenv, made on first use."""
    chaos = PEER / "bin" / "chaos"
    if not chaos.exists():
        print(f"installing Chaos Toolkit into {PEER} ...", flush=True)
        venv.create(PEER, with_pip=True)
        subprocess.run([str(PEER / "bin" / "python"), "-m", "pip", "install", "-q", *PACKAGES], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)
    return chaos


def experiment(lab: Lab, sla: float) -> dict:
    """The same fault as Chaos Toolkit's users would write it: kill, pause for the SLA, look."""
    ep = lab.endpoints
    assert ep is not None
    up = "up{job=\"inference-gateway\"}"
    firing = "ALERTS{alertname=\"ServiceDown\",alertstate=\"firing\"}"
    am = f"{ep.alertmanager}/api/v2/alerts?active=true&filter=alertname%3D%22ServiceDown%22"
    hypothesis = [
        {"type": "probe", "name": "gateway-answers", "tolerance": 200,
         "provider": {"type": "http", "url": f"{ep.gateway}/health", "timeout": 2}},
        {"type": "probe", "name": "prometheus-sees-it-up",
         "tolerance": {"type": "jsonpath", "path": "$.data.result[0].value[1]", "expect": "1"},
         "provider": {"type": "python", "module": "chaosprometheus.probes", "func": "query",
                      "arguments": {"query": up}}},
    ]
    return {
        "version": "1.0.0", "title": "The inference gateway dies: ServiceDown pages the pager within the SLA",
        "description": "gameday's service-outage scenario, written for Chaos Toolkit",
        "configuration": {"prometheus_base_url": ep.prometheus},
        "steady-state-hypothesis": {"title": "the gateway serves", "probes": hypothesis},
        "method": [
            {"type": "action", "name": "kill-the-gateway",
             "provider": {"type": "process", "path": "kill", "arguments": f"-9 {lab.supervisor.pid(GATEWAY)}"},
             "pauses": {"after": round(sla, 3)}},
            {"type": "probe", "name": "servicedown-firing", "tolerance": {"type": "jsonpath",
                                                                         "path": "$.data.result[*].metric.alertname",
                                                                         "expect": "ServiceDown"},
             "provider": {"type": "python", "module": "chaosprometheus.probes", "func": "query",
                          "arguments": {"query": firing}}},
            {"type": "probe", "name": "alertmanager-routes-it-to-pager", "tolerance": {
                "type": "jsonpath", "path": "$[*].receivers[*].name", "expect": "pager", "target": "body"},
             "provider": {"type": "http", "url": am, "timeout": 2}},
        ],
        "rollbacks": [],
    }


def run_ctk(lab: Lab, sla: float, work: Path) -> tuple[float, dict]:
    spec = work / "experiment.json"
    spec.write_text(json.dumps(experiment(lab, sla), indent=2))
    t0 = time.monotonic()
    subprocess.run([str(ctk()), "--log-file", str(work / "chaostoolkit.log"), "run", "--journal-path",
                    str(work / "journal.json"), str(spec)], cwd=work, capture_output=True, text=True,
                   stdin=subprocess.DEVNULL, timeout=600)
    return time.monotonic() - t0, json.loads((work / "journal.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=60.0, help="time scale (default 60)")
    args = parser.parse_args()
    ctk()  # installed before anything is timed
    work = Path(tempfile.mkdtemp(prefix="gameday-peer-"))
    scenario = load_scenario(ROOT / "scenarios" / "service-outage.yaml", ROOT)
    scaled = scenario.scaled(args.scale)
    sla = scaled.sla["ServiceDown"]
    with Lab(LabConfig(ROOT, work / "lab", time_scale=args.scale)) as lab:
        t0 = time.monotonic()
        rec = Drill(scenario, DrillContext(ROOT, work, lab, args.scale)).run()
        gd_wall = time.monotonic() - t0
        lab.reset_alerting()  # Chaos Toolkit's turn starts from a clean slate too
        held = lab.supervisor.set_restart_delay(GATEWAY, scaled.fault_duration or 0.0)  # the same outage
        try:
            ctk_wall, journal = run_ctk(lab, sla, work)
        finally:
            lab.supervisor.set_restart_delay(GATEWAY, held)
    t = rec.timings_of("ServiceDown")
    runs = {r["activity"]["name"]: r for r in journal.get("run", [])}
    routed = runs.get("alertmanager-routes-it-to-pager", {}).get("status") == "succeeded"
    print(f"service-outage at time scale {args.scale:g} on one lab (SLA {human(sla)}, "
          f"{human(sla * args.scale)} real time)")
    print(f"{'tool':<14} {'wall':>7}  {'page at the right receiver within the SLA':<58} detection time reported")
    met = rec.alert_summary("ServiceDown")["sla_met"]
    print(f"{'gameday':<14} {gd_wall:6.1f}s  "
          f"{f'{rec.verdict}: asserted (page at pager {human(t.ttn)} after the fault)' if met else rec.verdict:<58} "
          f"TTD {human(t.ttd)}, TTN {human(t.ttn)}, MTTR {human(t.mttr)}")
    said = (f"no: after a fixed {human(sla)} pause, Alertmanager "
            f"{'routes the alert to pager' if routed else 'did not show it routed to pager'}; the "
            "page's arrival is not observable")
    print(f"{'Chaos Toolkit':<14} {ctk_wall:6.1f}s  {said:<58} none")
    print(f"    chaos toolkit's own verdict: {journal.get('status')}, deviated {journal.get('deviated')} (its "
          "steady-state hypothesis, checked again right after the pause)")
    for name, r in runs.items():
        print(f"    chaos toolkit {name}: {r.get('status')} ({r.get('duration', 0):.2f}s)")
    print(f"(work folder {work})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
