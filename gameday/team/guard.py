"""What a fault on a team's stack must never reach, whatever its target file says: the team's Prometheus or
Alertmanager (a drill that stops them proves nothing and blinds the team), and the harness itself.

A service is the monitoring when, on this host, it listens on the port of ``monitoring.prometheus.url`` or
``monitoring.alertmanager.url`` (read from the kernel's socket table through psutil), or, as a container, publishes
that port; it is the harness when it is this process or one of its ancestors. Monitoring reached at an address
that is neither this machine's nor a container's on its engine cannot be told apart this way, and is left to
``safety.faultable``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

import psutil


def _local_addresses() -> set[str]:
    found = {"localhost"}
    for addrs in psutil.net_if_addrs().values():
        found |= {a.address.split("%", 1)[0] for a in addrs if a.family.name in ("AF_INET", "AF_INET6")}
    return found


def monitoring_ports(urls: dict[str, str]) -> dict[int, str]:
    """port -> the setting, for each monitoring URL whose host is this machine (loopback or one of its addresses)."""
    local = _local_addresses()
    ports: dict[int, str] = {}
    for setting, url in urls.items():
        parts = urlsplit(url)
        host = parts.hostname or ""
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).is_loopback:
                local.add(host)
        if host in local:
            ports[parts.port or (443 if parts.scheme == "https" else 80)] = setting
    return ports


def _listening(pid: int) -> set[int]:
    try:
        conns = psutil.Process(pid).net_connections(kind="inet")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return set()
    return {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN and c.laddr}


def process_refusal(pid: int, what: str, ports: dict[int, str]) -> str | None:
    """Why the process ``pid`` (and its descendants) must not take a fault, or None."""
    try:
        proc = psutil.Process(pid)
        family = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    harness = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    for p in family:
        if p.pid in harness:
            return f"{what} is the harness itself (pid {p.pid} runs this drill)"
        for port in sorted(_listening(p.pid) & set(ports)):
            return f"{what} listens on port {port}, where {ports[port]} is: gameday never faults the monitoring"
    return None


def container_refusal(container: Any, what: str, ports: dict[int, str], urls: dict[str, str]) -> str | None:
    """Why the container must not take a fault (it publishes a monitoring port, or a monitoring URL names its
    address on one of its networks), or None."""
    settings = dict(container.attrs.get("NetworkSettings") or {})
    for bindings in (settings.get("Ports") or {}).values():
        for b in bindings or []:
            port = int(b.get("HostPort") or 0)
            if port in ports:
                return (f"{what} publishes port {port}, where {ports[port]} is: gameday never faults the "
                        "monitoring")
    addresses = {n.get("IPAddress") for n in (settings.get("Networks") or {}).values()} - {None, ""}
    for setting, url in urls.items():
        if urlsplit(url).hostname in addresses:
            return f"{what} is at {urlsplit(url).hostname}, where {setting} is: gameday never faults the monitoring"
    return None
