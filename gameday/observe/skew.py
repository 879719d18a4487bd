"""How far a monitoring server's clock is from the harness's: Prometheus's ``time()`` (milliseconds), and an HTTP
``Date`` header where that is all a server offers (Alertmanager: whole seconds).

On a stack gameday does not own, an alert's ``startsAt`` is written by the team's Prometheus on its own clock; the
drill turns it into its own time, so it corrects it by the skew read here, records the skew, and refuses a drill
whose skew is past the bound the target file sets.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from gameday.core.errors import StackUnreachable


def prometheus_skew(prometheus: Any) -> float:
    """Prometheus's clock minus this one's, in seconds: ``time()`` against the midpoint of the request."""
    before = time.time()
    rows = prometheus.query("time()")
    after = time.time()
    if not rows or not isinstance(rows[0], list) or len(rows[0]) != 2:
        raise StackUnreachable(f"Prometheus at {prometheus.base_url} did not answer time() with a scalar")
    return float(rows[0][1]) - (before + after) / 2


def date_skew(api: Any, path: str = "/-/ready") -> float | None:
    """A server's clock minus this one's from its ``Date`` header, to the second (None when it sends none)."""
    before = time.time()
    try:
        resp = api._http.get(f"{api.base_url}{path}", timeout=api.timeout)
    except requests.RequestException as exc:
        raise StackUnreachable(f"{api.name} at {api.base_url} did not answer {path}: {type(exc).__name__}") from None
    after = time.time()
    date = resp.headers.get("Date")
    if not date:
        return None
    try:
        server = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return None
    # the header drops the fraction of a second: the server's time was in [server, server + 1)
    return server + 0.5 - (before + after) / 2
