"""model-backend: a fake inference behind ``POST /infer``: a little CPU work, then the model on an accelerator.

The accelerator runs at most ``--slots`` inferences at once, each for ``--accelerator-ms``; an inference
that finds every slot busy waits for one, as on a GPU-backed model server. Its capacity is
``slots / accelerator-ms`` inferences a second (100/s by default); traffic beyond that queues, and the
wait shows as latency. The CPU stays mostly idle meanwhile, so an overload shows the way it would on a
real model server, without taking the machine's cores from the monitoring that has to notice it.

Metrics for saturation: ``model_accelerator_slots`` (capacity), ``model_accelerator_busy_seconds_total``
(slot-seconds used: its rate over the slots is the utilisation), ``model_queue_depth`` and
``model_queue_wait_seconds`` (the wait for a slot).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

INFERENCES = Counter("model_inferences_total", "Fake inferences served", ["outcome"])
INFER_SECONDS = Histogram("model_inference_seconds", "CPU time of one fake inference",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))
SLOTS = Gauge("model_accelerator_slots", "Inferences the accelerator runs at once")
BUSY = Counter("model_accelerator_busy_seconds", "Slot-seconds the accelerator spent on inferences")
QUEUED = Gauge("model_queue_depth", "Inferences waiting for a free accelerator slot")
QUEUE_WAIT = Histogram("model_queue_wait_seconds", "Time an inference waited for a free accelerator slot",
                       buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))


def fake_inference(inputs: list[float], work_ms: float) -> dict[str, float]:
    """Hash the inputs over and over for ``work_ms`` of CPU, then derive a score from them."""
    digest = repr(inputs).encode()
    deadline = time.perf_counter() + work_ms / 1000
    rounds = 0
    while time.perf_counter() < deadline:
        digest = hashlib.sha256(digest).digest()
        rounds += 1
    return {"score": digest[0] / 255, "rounds": rounds}


class Accelerator:
    """``slots`` inferences at once, each holding its slot for ``seconds``; the rest wait in line."""

    def __init__(self, slots: int, seconds: float) -> None:
        self.slots, self.seconds = slots, seconds
        self._free = asyncio.Semaphore(slots)
        SLOTS.set(slots)

    async def run(self) -> None:
        if self.seconds <= 0:
            return
        queued = time.perf_counter()
        QUEUED.inc()
        try:
            await self._free.acquire()
        finally:
            QUEUED.dec()
        began = time.perf_counter()
        QUEUE_WAIT.observe(began - queued)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self._free.release()
            BUSY.inc(time.perf_counter() - began)


def make_app(work_ms: float, slots: int = 3, accelerator_ms: float = 30.0) -> web.Application:
    accelerator: Accelerator | None = None

    async def start_accelerator(_: web.Application) -> None:
        nonlocal accelerator
        accelerator = Accelerator(slots, accelerator_ms / 1000)  # its semaphore belongs to the serving loop

    async def infer(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            inputs = [float(x) for x in body.get("inputs", [])]
        except (ValueError, TypeError, AttributeError):
            INFERENCES.labels("bad_request").inc()
            return web.json_response({"error": "inputs must be a list of numbers"}, status=400)
        with INFER_SECONDS.time():
            result = fake_inference(inputs, work_ms)
        assert accelerator is not None
        await accelerator.run()
        INFERENCES.labels("ok").inc()
        return web.json_response(result)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.on_startup.append(start_accelerator)
    app.add_routes([web.post("/infer", infer), web.get("/health", health), web.get("/metrics", metrics)])
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="model-backend", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lab", default="", help="the lab folder that started this process (for finding leftovers)")
    parser.add_argument("--work-ms", type=float, default=3.0, help="CPU time of each inference's preprocessing")
    parser.add_argument("--slots", type=int, default=3, help="inferences the accelerator runs at once")
    parser.add_argument("--accelerator-ms", type=float, default=30.0,
                        help="how long each inference holds its accelerator slot (0: no accelerator)")
    args = parser.parse_args(argv)
    if args.slots < 1:
        parser.error("--slots must be at least 1")
    web.run_app(make_app(args.work_ms, args.slots, args.accelerator_ms), host=args.host, port=args.port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
