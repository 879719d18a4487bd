"""Reading a user's file: a regular file, no larger than its kind may be, checked before a byte is read.

A FIFO would block the read forever, a device (``/dev/zero``) or a huge sparse file would fill the memory:
each is refused in one sentence instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

CONFIG_BYTES = 1024 * 1024
"""The largest config file read (rules, routes, settings): real ones are a few KiB."""

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class InputError(OSError):
    """A file that is not one to read: its ``strerror`` says why, in a few words."""


def read_bounded(path: Path, limit: int = CONFIG_BYTES, kind: str = "such a file") -> bytes:
    """The bytes of ``path`` (links followed), or ``InputError`` when it is not a regular file or is over
    ``limit`` bytes; other ``OSError`` as the system raised it. Never blocks, never reads more than ``limit + 1``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
            raise InputError(0, f"{kind}, not a regular file")
        if st.st_size > limit:
            raise InputError(0, f"{st.st_size} bytes, more than {kind} may have ({limit})")
        chunks, got = [], 0
        while got <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:  # it grew while being read
            raise InputError(0, f"more than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text_bounded(path: Path, limit: int = CONFIG_BYTES, kind: str = "such a file") -> str:
    """``read_bounded`` as UTF-8 text (``InputError`` when it is not)."""
    raw = read_bounded(path, limit, kind)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(0, f"not UTF-8 text (byte {exc.start})") from None
