"""Free ports on loopback for a target's services, kept apart between pytest-xdist workers."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

_CHOSEN: set[int] = set()


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range, which it hands to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _worker_slice(start: int, end: int, slices: int = 8) -> tuple[int, int]:
    """The part of [start, end) for this pytest-xdist worker (``$PYTEST_XDIST_WORKER``: gw0 ...); all of it
    outside a worker."""

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.removeprefix("gw").isdigit():
        return start, end
    size = (end - start) // slices
    first = start + int(worker.removeprefix("gw")) % slices * size
    return first, first + size


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a service that will bind it a moment later.

    It comes from below the kernel's ephemeral range: a port from that range (what binding port 0
    gives) can be taken as the source port of any outgoing connection on the machine in the time
    between this choice and the service's bind, and the service then fails to start. Below the
    range only a listener can take it. A port is never chosen twice by one process, and each
    pytest-xdist worker chooses from a slice of its own, so two workers' labs never race for one port.
    """
    low = _ephemeral_low()
    if low >= 12_000:
        start, end = _worker_slice(max(10_000, low - 22_000), low)
        for _ in range(500):
            port = random.randrange(start, end)
            if port in _CHOSEN:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _CHOSEN.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # no range to stay out of: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

