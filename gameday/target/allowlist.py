"""The default allowlist: load and faults only ever target loopback."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from gameday.core.errors import TargetNotAllowed

ALLOWED = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def check_target(url: str) -> str:
    """Return ``url`` if every address its host resolves to is on loopback; raise otherwise."""
    host = urlsplit(url).hostname
    if not host:
        raise TargetNotAllowed(f"{url}: no host in the target URL")
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise TargetNotAllowed(f"{url}: cannot resolve {host}: {exc.strerror}") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if not any(addr in net for net in ALLOWED):
            raise TargetNotAllowed(f"{url}: {host} resolves to {addr}, outside the allowlist (127.0.0.0/8, ::1)")
    return url
