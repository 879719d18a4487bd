"""How late the harness's own timers run while a fault is in: the error bound of its timestamps.

The drill stamps a page when the receiver's thread handles its webhook and reads alert states on
its polls; a machine starved of CPU (a stress fault that is not bounded well) delays both. A probe
thread asks to wake every ``interval`` and records how much later than asked it woke: the worst of
those is how late any timestamp the harness took meanwhile can be, on top of the stack's own steps
(scrape and evaluation intervals), which the pipeline floor already counts.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class LagProbe:
    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LagProbe:
        self._thread = threading.Thread(target=self._run, name="lag-probe", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            asked = time.monotonic()
            time.sleep(self.interval)
            self.lags.append(max(0.0, time.monotonic() - asked - self.interval))

    def stop(self) -> dict[str, Any]:
        """Stop and summarise, in milliseconds: samples, median, p99 and worst lateness."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        lags = sorted(self.lags)
        if not lags:
            return {"samples": 0}

        def at(q: float) -> float:
            return round(lags[min(len(lags) - 1, int(q * len(lags)))] * 1000, 2)

        return {"samples": len(lags), "interval_ms": self.interval * 1000, "p50_ms": at(0.5), "p99_ms": at(0.99),
                "max_ms": round(lags[-1] * 1000, 2)}
