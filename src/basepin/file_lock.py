"""An exclusive lock on one file while it is read and replaced, so that runs never interleave.

On Linux and macOS the lock is `flock` on the file itself: no lock file is left in the tree,
and any program may take the same lock (`flock Dockerfile -c '...'`). A fix replaces the file
with a new one, so a run that was waiting gets the lock of a file no longer at the path; it
then locks the file the path names now. Where `flock` is not available (Windows, some network
file systems) nothing is locked, and only the last look before the replace guards the file.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

# How long a run waits for another to let go of a file: a rewrite takes milliseconds, so this
# is only reached when a program holds the lock for good.
TIMEOUT = 30.0
# Compared a slice at a time, so that checking a large file needs no second copy of it.
_CHUNK = 1 << 20
# flock errors that mean "no locks here" rather than "someone holds it".
_UNSUPPORTED = frozenset(
    {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF, errno.EINVAL, errno.ENOSYS}
)


class NotRegularFile(OSError):
    """The path names something other than a regular file (a folder, a FIFO, a device)."""


class LockTimeout(OSError):
    """Another process held the lock for longer than `TIMEOUT`."""


class LockedFile:
    """A regular file held under the lock: its status when locked, its bytes, a last look."""

    def __init__(self, path: Path, fd: int | None, status: os.stat_result) -> None:
        self.path = path
        self.status = status
        self._fd = fd

    def read(self) -> bytes:
        if self._fd is None:
            return self.path.read_bytes()
        os.lseek(self._fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self._fd, max(self.status.st_size + 1, _CHUNK)):
            chunks.append(chunk)
        return b"".join(chunks) if len(chunks) != 1 else chunks[0]

    def holds(self, data: bytes) -> bool:
        """Whether the path still names the locked file and it still holds `data`: a writer
        that does not take the lock may have changed or replaced it."""
        if self._fd is None:
            return self.path.read_bytes() == data
        now = self.path.lstat()
        if (now.st_dev, now.st_ino) != (self.status.st_dev, self.status.st_ino):
            return False
        if now.st_size != len(data):
            return False
        view = memoryview(data)
        for offset in range(0, len(data) + 1, _CHUNK):
            if os.pread(self._fd, _CHUNK, offset) != view[offset : offset + _CHUNK]:
                return False
        return True


@contextmanager
def locked(path: Path) -> Iterator[LockedFile]:
    """Hold `path` (a regular file, not a symbolic link) under an exclusive lock, waiting for
    it up to `TIMEOUT` seconds.

    Raises OSError when it cannot be opened, NotRegularFile, or LockTimeout.
    """
    if fcntl is None:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file", str(path))
        yield LockedFile(path, None, status)
        return
    fd, status = _open_locked(path, time.monotonic() + TIMEOUT)
    try:
        yield LockedFile(path, fd, status)
    finally:
        os.close(fd)  # lets the lock go


def _open_locked(path: Path, deadline: float) -> tuple[int, os.stat_result]:
    # O_NONBLOCK: opening a FIFO put in the file's place must not wait for a writer.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    while True:
        fd = os.open(path, flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise NotRegularFile(errno.EINVAL, "not a regular file", str(path))
            _lock(fd, deadline)
            status = os.fstat(fd)
            now = path.lstat()
            if (now.st_dev, now.st_ino) == (status.st_dev, status.st_ino):
                return fd, status
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # replaced while this run waited: lock what the path names now


def _lock(fd: int, deadline: float) -> None:
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(errno.EAGAIN, "another process holds its lock") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        except OSError as exc:
            if exc.errno in _UNSUPPORTED:
                return  # no locks on this file system: the last look before the replace stays
            raise
