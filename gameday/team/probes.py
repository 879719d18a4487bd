"""The user's view of a team's service, as its target file says: one HTTP request that must answer its status, a TCP
connect, or a PromQL expression that must return data."""

from __future__ import annotations

import socket
from typing import Any

import requests

from gameday.core.errors import HarnessError
from gameday.team.model import Service

_HTTP = requests.Session()
_HTTP.trust_env = False  # never through a proxy from the environment


def split_hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def probe(service: Service, prometheus: Any) -> bool:
    """True when the service answers as its probe expects; any failure is False."""
    p = service.probe
    if p.http is not None:
        assert service.url is not None
        try:
            res = _HTTP.request(p.http.method, service.url.rstrip("/") + p.http.path, timeout=p.http.timeout,
                                allow_redirects=False)
        except requests.RequestException:
            return False
        return res.status_code == p.http.status
    if p.tcp is not None:
        host, port = split_hostport(p.tcp)
        try:
            with socket.create_connection((host, port), timeout=2.0):
                return True
        except OSError:
            return False
    assert p.promql is not None
    try:
        return bool(prometheus.query(p.promql))
    except HarnessError:
        return False


def probe_addresses(service: Service) -> list[str]:
    """The URLs a probe sends to (for the allowlist): the HTTP probe's and the TCP probe's."""
    if service.probe.tcp is not None:
        return [f"tcp://{service.probe.tcp}"]
    return [service.url] if service.url else []
