"""inference-gateway: the user-facing HTTP service, instrumented with prometheus_client.

``POST /v1/predict`` forwards to the model backend with a timeout and answers 502 when the
backend fails or cannot be reached, 504 when it is too slow.
"""

from __future__ import annotations

import argparse
import time

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("http_requests", "HTTP requests served", ["method", "endpoint", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer an HTTP request", ["method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
BACKEND_CALLS = Counter("model_backend_requests", "Calls from the gateway to the model backend", ["outcome"])
KNOWN_ENDPOINTS = {"/v1/predict", "/health", "/metrics"}


@web.middleware
async def instrument(request: web.Request, handler):  # type: ignore[no-untyped-def]
    endpoint = request.path if request.path in KNOWN_ENDPOINTS else "other"
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if endpoint != "/metrics":
            REQUESTS.labels(request.method, endpoint, str(status)).inc()
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - start)


def make_app(backend_url: str, timeout_s: float) -> web.Application:
    async def predict(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        session: aiohttp.ClientSession = request.app["session"]
        try:
            async with session.post(f"{backend_url}/infer", json=body,
                                    timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                payload = await resp.json(content_type=None)
                if resp.status >= 500:
                    BACKEND_CALLS.labels("error").inc()
                    return web.json_response({"error": "model backend failed"}, status=502)
                BACKEND_CALLS.labels("ok").inc()
                return web.json_response({"prediction": payload}, status=resp.status)
        except TimeoutError:
            BACKEND_CALLS.labels("timeout").inc()
            return web.json_response({"error": f"model backend timed out after {timeout_s}s"}, status=504)
        except aiohttp.ClientError as exc:
            BACKEND_CALLS.labels("unreachable").inc()
            return web.json_response({"error": f"model backend unreachable: {type(exc).__name__}"}, status=502)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def open_session(app: web.Application) -> None:
        # no DNS cache: a backend container that stops loses its name at once, and one that starts again may come
        # back at a new address; a cached address would send new connections where nobody answers, and every
        # request would wait for the backend timeout instead of failing (or succeeding) at once
        app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(use_dns_cache=False))

    async def close_session(app: web.Application) -> None:
        await app["session"].close()

    app = web.Application(middlewares=[instrument])
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.add_routes([web.post("/v1/predict", predict), web.get("/health", health), web.get("/metrics", metrics)])
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="inference-gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lab", default="", help="the lab folder that started this process (for finding leftovers)")
    parser.add_argument("--backend", required=True, help="base URL of the model backend")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the backend")
    args = parser.parse_args(argv)
    web.run_app(make_app(args.backend, args.timeout), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
