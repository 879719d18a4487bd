"""Reverting a fault whose harness is gone, by the reverter its ledger entry names.

Each fault names how it is reverted (``Fault.reverter``), and the ledger keeps that name with the entry.
The watchdog and ``gameday revert`` look the name up here: two reverters are the engine's own, the rest are
declared by the packages that make the faults, as entry points in the group ``gameday.reverters`` (the lab's
stress cgroups, the traffic surge, the Compose containers; a team's target plugin declares its own the same
way). So the watchdog imports no target, and a name nobody declared is an entry left open, said in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from gameday.core.text import printable
from gameday.faults.ledger import Ledger

GROUP = "gameday.reverters"
Reverter = Callable[[dict[str, Any]], tuple[str, str]]
"""(a ledger entry) -> (the state to close it with: reverted, abandoned or gone; a note saying what was checked)."""


def restore_baseline(entry: dict[str, Any]) -> tuple[str, str]:
    """A fault on a target that can put itself back as it was started (a warm lab): ``POST`` its restore URL,
    which answers 200 with what it checked, or an error with what is still wrong."""
    import requests

    url = str((entry.get("detail") or {}).get("restore", ""))
    try:
        res = requests.post(url, timeout=30)
        body = res.json()
    except (requests.RequestException, ValueError) as exc:
        return "gone", (f"{url} did not answer ({type(exc).__name__}): the target that held the fault is down, and "
                        "the services it started are set to die with it; nothing was reverted")
    if res.status_code == 200:
        return "reverted", f"{url} restored the target's baseline: {body.get('checked')}"
    return "abandoned", f"{url} could not restore the target's baseline: {body.get('error')}"


def died_with_harness(entry: dict[str, Any]) -> tuple[str, str]:
    """A fault held by processes that die with the run (a lab's killed service, its link): nothing is left."""
    return "gone", "held by the run's own processes, which died with it, so nothing is left"


BUILTIN: dict[str, Reverter] = {"restore-url": restore_baseline, "died-with-harness": died_with_harness}


def reverter_named(name: str) -> Reverter | None:
    if name in BUILTIN:
        return BUILTIN[name]
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    return None


def named_in(entry: dict[str, Any]) -> str:
    """The reverter an entry names; an entry from before entries named one is read by what its detail holds."""
    if entry.get("revert"):
        return str(entry["revert"])
    detail = entry.get("detail") or {}
    if "restore" in detail:
        return "restore-url"
    if "cgroup" in detail:
        return "cgroup-stress"
    if entry.get("kind") == "traffic-surge":
        return "traffic-surge"
    if "container" in detail:
        return "compose-container"
    return "died-with-harness"


def revert_entry(entry: dict[str, Any]) -> tuple[str, str]:
    """Revert an open fault whose harness is gone; (ledger state, note)."""
    name = named_in(entry)
    revert = reverter_named(name)
    if revert is None:
        return "abandoned", (f"its entry names the reverter {printable(name, 60)!r}, which no installed package "
                             f"declares (entry points {GROUP}): revert it by hand")
    return revert(entry)


def revert_orphans(ledger: Ledger, say: Callable[[str], None] = print) -> list[str]:
    """Revert every open fault whose harness is gone; each is recorded reverted only when the revert was checked."""
    states = []
    for entry in ledger.orphans():
        state, note = revert_entry(entry)
        ledger.closed(entry["id"], note=note, state=state)
        (ledger.path.parent / "watchdog" / f"{entry['id']}.beat").unlink(missing_ok=True)  # its watchdog's, if any
        states.append(state)
        what = f"{entry.get('kind')} on {printable(entry.get('target'), 60)}"
        say(f"gameday: {what} left open by run {entry.get('pid')}: {state}: {printable(note, 300)}")
    return states
