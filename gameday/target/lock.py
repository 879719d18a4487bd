"""One game day per target at a time: a lock the kernel lets go of when its holder dies."""

from __future__ import annotations

import os
from pathlib import Path


class TargetLock:
    """One game day per target at a time: an exclusive lock on a file named after the target.

    The kernel releases the lock when its holder dies, so a lock left by a dead run is stale by
    construction: the next run takes it, and says whose it was.
    """

    def __init__(self, name: str, folder: str | None = None) -> None:
        import tempfile

        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        self.path = Path(folder or tempfile.gettempdir()) / f"gameday-{safe}.lock"
        self.name = name
        self._fd: int | None = None
        self.stale: str | None = None
        """The holder recorded in a lock file whose holder had died, when there was one."""

    def acquire(self, wait: bool = False) -> TargetLock:
        """Take the lock, or stop with who holds it; ``wait``: block until the holder lets go."""
        import fcntl
        import time

        from gameday.core.errors import HarnessError

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

        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

