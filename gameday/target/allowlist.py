"""What the harness may send to: loopback by default; a team's target file widens it to the networks of its
``safety.allow``, and nothing else is ever reached."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gameday.core.errors import TargetNotAllowed

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
ALLOWED = LOOPBACK


@dataclass(frozen=True)
class Reach:
    """The networks that load, probes and the harness's reads may go to, and the setting that says so."""

    networks: tuple[Network, ...] = LOOPBACK
    setting: str = ""
    """Where a wider allowlist comes from (``safety.allow in targets/shop.yaml``); empty for loopback only."""

    @classmethod
    def of(cls, networks: Iterable[str], setting: str) -> Reach:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks), setting)

    def shown(self) -> str:
        return ", ".join("::1" if str(n) == "::1/128" else str(n) for n in self.networks)

    def check(self, url: str) -> str:
        """Return ``url`` if every address its host resolves to is allowed; raise, in one line, otherwise."""
        host = urlsplit(url).hostname
        if not host:
            raise TargetNotAllowed(f"{url}: no host in the target URL")
        try:
            infos = socket.getaddrinfo(host, None)
        except socket.gaierror as exc:
            raise TargetNotAllowed(f"{url}: cannot resolve {host}: {exc.strerror}") from None
        for info in infos:
            addr = ipaddress.ip_address(info[4][0].split("%")[0])
            if not any(addr in net for net in self.networks):
                hint = f": add its network to {self.setting} to allow it" if self.setting else ""
                raise TargetNotAllowed(f"{url}: {host} resolves to {addr}, outside the allowlist ({self.shown()})"
                                       f"{hint}")
        return url


LOOPBACK_ONLY = Reach()


def check_target(url: str, reach: Reach = LOOPBACK_ONLY) -> str:
    """Return ``url`` if every address its host resolves to is allowed (loopback unless ``reach`` widens it)."""
    return reach.check(url)
