"""model-backend: a small CPU-bound fake inference behind ``POST /infer``."""

from __future__ import annotations

import argparse
import hashlib
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

INFERENCES = Counter("model_inferences_total", "Fake inferences served", ["outcome"])
INFER_SECONDS = Histogram("model_inference_seconds", "CPU time of one fake inference",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))


def fake_inference(inputs: list[float], work_ms: float) -> dict[str, float]:
    """Hash the inputs over and over for ``work_ms`` of CPU, then derive a score from them."""
    digest = repr(inputs).encode()
    deadline = time.perf_counter() + work_ms / 1000
    rounds = 0
    while time.perf_counter() < deadline:
        digest = hashlib.sha256(digest).digest()
        rounds += 1
    return {"score": digest[0] / 255, "rounds": rounds}


def make_app(work_ms: float) -> web.Application:
    async def infer(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            inputs = [float(x) for x in body.get("inputs", [])]
        except (ValueError, TypeError, AttributeError):
            INFERENCES.labels("bad_request").inc()
            return web.json_response({"error": "inputs must be a list of numbers"}, status=400)
        with INFER_SECONDS.time():
            result = fake_inference(inputs, work_ms)
        INFERENCES.labels("ok").inc()
        return web.json_response(result)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.add_routes([web.post("/infer", infer), web.get("/health", health), web.get("/metrics", metrics)])
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="model-backend", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lab", default="", help="the lab folder that started this process (for finding leftovers)")
    parser.add_argument("--work-ms", type=float, default=3.0)
    args = parser.parse_args(argv)
    web.run_app(make_app(args.work_ms), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
