"""A Locust load shape the harness steers: loaded by Locust beside the scenario's locustfile, never imported
by the harness (Locust patches the process it runs in).

Each second it reads ``$GAMEDAY_LOAD_CONTROL``, a JSON file ``{"users": N, "spawn_rate": R}`` that the
harness rewrites to change the load (a traffic surge, and its end), and asks Locust for that many users.
A control file that cannot be read keeps the last good value. The run ends after ``--run-time`` (which
Locust does not enforce on a shape by itself), so the load stays bounded in time whatever the file says.
"""

from __future__ import annotations

import json
import os

import locust.stats
from locust import LoadTestShape

MAX_USERS = 200

# The harness reads the statistics history while the run goes on (a run serves a whole session's drills):
# each once-a-second row reaches the file at once, not in Locust's 5-second batches.
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 0


class SteeredShape(LoadTestShape):
    use_common_options = True  # reads --run-time, --users and --spawn-rate itself

    def __init__(self) -> None:
        super().__init__()
        self._last: tuple[int, float] | None = None

    def _wanted(self) -> tuple[int, float]:
        options = self.runner.environment.parsed_options if self.runner else None
        fallback = self._last or (int(getattr(options, "num_users", 1) or 1),
                                  float(getattr(options, "spawn_rate", 1) or 1))
        try:
            with open(os.environ["GAMEDAY_LOAD_CONTROL"]) as f:
                data = json.load(f)
            users, rate = int(data["users"]), float(data["spawn_rate"])
        except (KeyError, OSError, TypeError, ValueError):
            return fallback
        if not (1 <= users <= MAX_USERS and 0 < rate <= MAX_USERS):
            return fallback
        self._last = (users, rate)
        return self._last

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options if self.runner else None
        limit = getattr(options, "run_time", None)
        if limit and self.get_run_time() >= limit:
            return None
        return self._wanted()
