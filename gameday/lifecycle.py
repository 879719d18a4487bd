"""Small shared shapes: a context manager that cleans up after its own failed start, and a loopback HTTP server."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class CleanOnFailure:
    """``with x:`` calls ``start()``; if that fails, ``stop()`` runs before the error goes on."""

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> Any:
        raise NotImplementedError

    def __enter__(self) -> Any:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SignalStop:
    """A process that runs until a signal asks it to stop (the warm lab, ``python -m gameday.lab``).

    The handler only sets a flag, and ``wait`` sleeps in short steps: no lock is involved. A
    ``threading.Event`` set from a handler deadlocks when the signal lands while the same thread,
    inside ``Event.wait``, holds the Event's own lock: the handler's ``set`` waits for that lock
    forever (a warm lab hung that way on ``gameday lab down``).
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT), step: float = 0.1) -> None:
        self.signum: int | None = None
        self.step = step
        for sig in signals:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a signal came or ``timeout`` seconds passed; True once a signal came."""
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.signum is None:
            left = self.step if end is None else min(self.step, end - time.monotonic())
            if left <= 0:
                break
            time.sleep(left)
        return self.signum is not None


@contextlib.contextmanager
def signals_deferred(what: str) -> Any:
    """Hold SIGINT and SIGTERM until the block ends, then act on them as they would have acted.

    For the engine calls that apply or revert a fault: an interruption inside one of them can leave
    the call half made (a container created but not started, an HTTP connection to the engine in the
    middle of a response, which the next call would read as its own answer). The block is bounded by
    its own timeouts; a signal that arrives meanwhile is told it will be acted on when it ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append(signum)
        say(f"\ngameday: signal {signum} held until {what} completes\n")

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(caught[0])


def say(text: str) -> None:
    """A line for the person at the terminal, past pytest's capture (which holds stderr until the test ends);
    file descriptor 2 where there is no terminal (CI). Called from signal handlers: it writes to the
    descriptor, never through ``sys.stderr``, whose buffer's lock the interrupted code may hold."""
    import os

    try:
        with open("/dev/tty", "w") as tty:
            tty.write(text)
    except OSError:
        with contextlib.suppress(OSError):
            os.write(2, text.encode(errors="replace"))


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log every request to stderr."""

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    """A client that went away before its answer (a relay's long poll cut short, a session ending) is no error worth
    a traceback in the log."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded HTTP server on loopback, served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self._server = _QuietServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Any:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Children get SIGKILL if the harness thread that started them dies, so none are left over."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


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
    import os

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


class TargetLock:
    """One game day per target at a time: an exclusive lock on a file named after the target.

    The kernel releases the lock when its holder dies, so a lock left by a dead run is stale by
    construction: the next run takes it, and says whose it was.
    """

    def __init__(self, name: str, folder: str | None = None) -> None:
        import tempfile
        from pathlib import Path

        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        self.path = Path(folder or tempfile.gettempdir()) / f"gameday-{safe}.lock"
        self.name = name
        self._fd: int | None = None
        self.stale: str | None = None
        """The holder recorded in a lock file whose holder had died, when there was one."""

    def acquire(self, wait: bool = False) -> TargetLock:
        """Take the lock, or stop with who holds it; ``wait``: block until the holder lets go."""
        import fcntl
        import os
        import time

        from gameday.errors import HarnessError

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another run"
            os.close(fd)
            raise HarnessError(f"another game day is running on {self.name} ({holder}); one game day per target at "
                               f"a time: wait for it to end (lock {self.path})") from None
        previous = os.pread(fd, 200, 0).decode(errors="replace").strip()
        self.stale = previous or None  # its holder is gone, or the lock would not have been ours
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        import fcntl
        import os

        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def start_guard(module: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m module --pid <this process> args...`` in a session of its own, to clean up after this process
    should it be killed outright (``gameday.compose.guard``, ``gameday.lab.guard``)."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module, "--pid", str(os.getpid()), *args],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_guard(guard: subprocess.Popen[bytes] | None) -> None:
    """This process cleaned up itself: its guard has nothing left to do."""
    if guard is not None:
        guard.kill()
        guard.wait()
