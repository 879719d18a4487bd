"""What no target file can make a fault reach: the team's monitoring on this host, and the harness itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from gameday.team.guard import monitoring_ports, process_refusal


def test_the_monitoring_and_the_harness_are_never_faultable(tmp_path):
    """A process listening on the port of the team's Prometheus is the monitoring; this process is the harness."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ports = monitoring_ports({"monitoring.prometheus.url": f"http://127.0.0.1:{port}",
                                  "monitoring.alertmanager.url": "https://192.0.2.7:9093"})
        assert ports == {port: "monitoring.prometheus.url"}, "a server not on this machine is no port here"
        deadline = time.monotonic() + 10
        while process_refusal(server.pid, "services.web", ports) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_refusal(server.pid, "services.web", ports) == (
            f"services.web listens on port {port}, where monitoring.prometheus.url is: gameday never faults the "
            "monitoring")
        assert process_refusal(server.pid, "services.web", {}) is None
        assert process_refusal(os.getpid(), "services.web", {}) == (
            f"services.web is the harness itself (pid {os.getpid()} runs this drill)")
        assert "harness itself" in process_refusal(os.getppid(), "services.web", {})
    finally:
        server.kill()
        server.wait()
