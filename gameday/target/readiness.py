"""When a target is ready for a drill: its services answer, Prometheus scrapes them all, Alertmanager is linked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay

from gameday.core.errors import HarnessError
from gameday.target.protocol import optional


def readiness(target: Any, known: frozenset[str] = frozenset()) -> dict[str, bool]:
    """What is ready now: each service, Prometheus with every target up, the Alertmanager link. What is in
    ``known`` was ready at the last look and is taken as ready without asking again."""

    def ask(name: str, look: Callable[[], bool]) -> bool:
        return True if name in known else look()

    state = {svc: ask(svc, lambda svc=svc: target.service_healthy(svc)) for svc in target.services()}
    state |= {"alertmanager": ask("alertmanager", target.alertmanager.ready),
              "prometheus": ask("prometheus", target.prometheus.ready)}
    if state["prometheus"] and {"scrapes up", "alertmanager linked"} <= known:
        return state | {"scrapes up": True, "alertmanager linked": True}
    if state["prometheus"]:
        try:
            up = target.prometheus.targets_up()
            state["scrapes up"] = bool(up) and all(up.values()) and len(up) >= len(target.services())
            state["alertmanager linked"] = bool(target.prometheus.alertmanagers())
        except HarnessError:
            state["scrapes up"] = False
    return state


def wait_ready(target: Any, timeout: float, what: str, hint: Callable[[], str] = str,
               broken: Callable[[], str] = str) -> None:
    """Wait until everything in ``readiness`` holds; the timeout names what was not ready, then ``hint()``.

    A target's ``when_serving(target)``, if it has one set, is called once, as soon as all its services answer,
    while Prometheus and Alertmanager may still be getting ready (the session's load starts then).

    ``broken()`` says why a service can no longer come up (it exited); then the wait ends at once.
    """
    seen: dict[str, bool] = {}
    expected = len(target.services()) + 4

    def check() -> bool:
        if why := broken():
            raise HarnessError(f"{what} did not start{why}")
        # a look asks only what was not ready at the last one; once all of it is, one look at everything
        # confirms it (a service ready earlier may have gone since)
        known = frozenset(k for k, v in seen.items() if v)
        now = readiness(target, known)
        if all(now.values()) and len(now) == expected and known:
            now = readiness(target)
        seen.clear()
        seen.update(now)
        serving = optional(target, "when_serving")
        if serving is not None and all(seen.get(svc) for svc in target.services()):
            target.when_serving = None  # once: the first time every service answers
            serving(target)
        return all(seen.values()) and len(seen) == expected

    def pause(_: Any) -> float:
        # each look is half a dozen HTTP requests: four looks a second cost the harness about 1% of a core. While
        # Prometheus is up but not yet scraping every target it is waiting for its scrape manager, which takes up
        # new targets at most every 5 s: two looks a second are enough there
        return 0.5 if seen.get("prometheus") and not seen.get("scrapes up", True) else 0.25

    try:
        Retrying(stop=stop_after_delay(timeout), wait=pause, retry=retry_if_result(lambda ok: not ok))(check)
    except RetryError:
        missing = ", ".join(k for k, v in seen.items() if not v) or "nothing answered yet"
        raise HarnessError(f"{what} was not ready within {timeout:.0f}s: not ready: {missing}{hint()}") from None
