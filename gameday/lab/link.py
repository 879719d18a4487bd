"""The lab's link to a dependency: a TCP relay between the gateway and the model backend that can add
delay or fail a share of requests.

The gateway reaches the backend only through this relay, so faults on the path act from outside the
backend's code (the lab's stand-in for netem, which this kernel may not have):

- delay: every byte that travels towards the backend is held for the current delay before it is
  passed on; the order of bytes on a connection is kept, and answers travel back at once;
- failures: each write towards the backend (an HTTP request, as the gateway's client sends one in one
  write) is, with the set probability, not passed on: the connection is cut, and the gateway answers
  that request with a 502, as when a dependency drops a share of its connections.

Both start at zero and live in memory only: a restarted relay is clean.

Control, on its own loopback port: ``GET /delay`` -> ``{"delay_ms": N}``; ``PUT /delay?ms=N``;
``GET /fail`` -> ``{"percent": P, "failed": N}``; ``PUT /fail?percent=P``; ``GET /health``.

Run: ``python -m gameday.lab.link --port P --upstream 127.0.0.1:B --control C``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import time

from aiohttp import web

MAX_DELAY_MS = 60_000
CHUNK = 65_536


class Link:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = 0.0
        self.fail_percent = 0.0
        self.failed = 0

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()  # the dependency is down: the caller sees its connection closed, as it would
            return
        line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        tasks = [asyncio.create_task(self._hold(client_r, line, client_w)),
                 asyncio.create_task(self._release(line, up_w)),
                 asyncio.create_task(self._pipe(up_r, client_w))]
        try:
            await tasks[2]  # the answers: when the backend's side of the connection ends, the connection is over
        except OSError:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in (up_w, client_w):
                writer.close()

    async def _hold(self, reader: asyncio.StreamReader, line: asyncio.Queue[tuple[float, bytes]],
                    client: asyncio.StreamWriter) -> None:
        """Each chunk towards the backend is due ``delay`` after it arrived (a delay line, not a throttle), or,
        with probability ``fail_percent`` / 100, the connection is cut instead (the backend never sees the request)."""
        while data := await reader.read(CHUNK):
            if self.fail_percent and random.random() * 100 < self.fail_percent:
                self.failed += 1
                client.transport.abort()
                break
            line.put_nowait((time.monotonic() + self.delay, data))
        line.put_nowait((0.0, b""))

    @staticmethod
    async def _release(line: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
        while True:
            due, data = await line.get()
            if not data:
                writer.write_eof()
                return
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


def control_app(link: Link) -> web.Application:
    async def get_delay(_: web.Request) -> web.Response:
        return web.json_response({"delay_ms": round(link.delay * 1000)})

    async def put_delay(request: web.Request) -> web.Response:
        try:
            ms = int(request.query["ms"])
        except (KeyError, ValueError):
            return web.json_response({"error": "give ?ms=N, a whole number of milliseconds"}, status=400)
        if not 0 <= ms <= MAX_DELAY_MS:
            return web.json_response({"error": f"ms must be 0..{MAX_DELAY_MS}"}, status=400)
        link.delay = ms / 1000
        return web.json_response({"delay_ms": ms})

    async def get_fail(_: web.Request) -> web.Response:
        return web.json_response({"percent": link.fail_percent, "failed": link.failed})

    async def put_fail(request: web.Request) -> web.Response:
        try:
            percent = float(request.query["percent"])
        except (KeyError, ValueError):
            return web.json_response({"error": "give ?percent=P, 0 to 100"}, status=400)
        if not math.isfinite(percent) or not 0 <= percent <= 100:
            return web.json_response({"error": "percent must be 0..100"}, status=400)
        link.fail_percent = percent
        return web.json_response({"percent": percent, "failed": link.failed})

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.add_routes([web.get("/delay", get_delay), web.put("/delay", put_delay), web.get("/fail", get_fail),
                    web.put("/fail", put_fail), web.get("/health", health)])
    return app


async def serve(port: int, upstream: str, control: int) -> None:
    host, _, up_port = upstream.rpartition(":")
    link = Link(host, int(up_port))
    server = await asyncio.start_server(link.handle, "127.0.0.1", port)
    runner = web.AppRunner(control_app(link), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", control).start()
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gameday.lab.link", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="where the gateway connects")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the backend")
    parser.add_argument("--control", type=int, required=True, help="the control API's port")
    parser.add_argument("--lab", default="", help="the lab folder (lets a leftover process be traced)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.upstream, args.control))


if __name__ == "__main__":
    main()
