"""A warm lab as other processes find it: its file in the reports folder, the fingerprint of what it runs, and
the one way to call its control API."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from gameday.faults.ledger import alive

WARM_FILE = "warm.json"


CODE = Path(__file__).resolve().parent.parent
"""The harness's package: the lab's code and the monitoring config it renders are part of a warm lab's identity."""


def _digest(*folders: Path, skip: tuple[Path, ...] = ()) -> str:
    h = hashlib.sha256()
    for folder in folders:
        files = [folder] if folder.is_file() else folder.rglob("*")  # a folder's files, or one file
        for path in sorted(p for p in files if p.is_file() and "__pycache__" not in p.parts):
            if any(path.is_relative_to(s) for s in skip):
                continue
            name = str(path.relative_to(folder.parent if folder.is_file() else folder))
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def fingerprint(cfg: Any) -> dict[str, str]:
    """What must match for a session to drill on a warm lab: what its processes were started with."""
    return {"time scale": f"{cfg.time_scale:g}",
            "config": _digest(cfg.config_dir, skip=(cfg.rules_dir, cfg.config_dir / "prometheus" / "rules")),
            "rules": _digest(cfg.rules_dir),
            "lab code": _digest(CODE / "lab", CODE / "target" / "monitoring.py",
                                      CODE / "observe" / "receiver.py")}


def mismatch(warm: dict[str, Any], wanted: dict[str, str], workdir: Path) -> str | None:
    """One line saying how a warm lab differs from what this session asks, or None."""
    theirs = warm.get("fingerprint", {})
    diff = [f"time scale {theirs.get(k)} (this run: {v})" if k == "time scale" else f"other {k}"
            for k, v in wanted.items() if theirs.get(k) != v]
    if not diff:
        return None
    return (f"the warm lab in {workdir} (pid {warm.get('pid')}) was started with {', '.join(diff)}: stop it with "
            f"`gameday lab down --reports {workdir.parent}` or start it again with this run's options")


def find_warm(workdir: Path) -> dict[str, Any] | None:
    """The warm lab serving ``workdir``, or None (a file left by a warm lab that died is removed)."""
    path = workdir / WARM_FILE
    try:
        warm = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(warm, dict) or not alive(warm.get("pid")):
        path.unlink(missing_ok=True)
        return None
    return warm


def post(url: str, action: str, timeout: float = 30.0, secret: str | None = None,
         **params: object) -> tuple[int, dict[str, Any]]:
    """``POST /<action>`` on a warm lab's control API: (status, body); status 0 when the lab did not answer."""
    from gameday.lab.supervisor import RemoteSupervisor

    return RemoteSupervisor(url, secret=secret).ask("POST", f"/{action}", timeout, **params)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (it holds the run's secret)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)
