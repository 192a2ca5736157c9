"""One writer per run directory: a lock file ``.lock`` naming its holder (PID, host, start time).

The holder keeps an exclusive ``flock`` on the file for as long as it lives; the kernel drops it
when the process ends in any way (``kill -9`` included). A second process finds the lock taken and
stops with one line naming the holder. A lock file whose ``flock`` is free was left by a process
that is gone: on the same host it is taken over (said in one line); a lock file of another host is
never taken over, since that host's processes cannot be checked from here (the message says which
file to delete once that process is known to be gone). The lock is held until the process exits
(or :func:`release`); the same process may open its run again.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from culturescope.errors import CulturescopeError

LOCK = ".lock"
#: (device, inode) of a run directory this process holds → the open lock file descriptor and the file.
#: Held directories are known by identity, not path: one stat finds them (a write checks at each
#: append), and a directory reached by another path (a symlink) is still the same one.
_held: dict[tuple[int, int], tuple[int, Path]] = {}


def _identity(directory: Path) -> tuple[int, int]:
    st = os.stat(directory)
    return st.st_dev, st.st_ino


def _describe(holder: dict) -> str:
    return f"PID {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('started', '?')}"


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 4096)
    try:
        holder = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


def acquire(directory: str | Path) -> None:
    """Make this process the one writer of ``directory`` (created if missing), or raise
    :class:`CulturescopeError` naming the process that is."""
    directory = Path(directory)
    try:
        if _identity(directory) in _held:
            return
    except FileNotFoundError:
        directory.mkdir(parents=True, exist_ok=True)
    directory = directory.resolve()
    path = directory / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise CulturescopeError(
                f"{directory} is in use by another culturescope process ({_describe(holder)}); "
                "wait for it to finish or choose another --out"
            ) from None
        try:  # a holder that released and deleted the file between our open and flock: open again
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    previous = _read(fd)
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    if previous.get("host", me["host"]) != me["host"]:
        os.close(fd)
        raise CulturescopeError(
            f"{directory} is locked by {_describe(previous)}, which cannot be checked from this host; "
            f"if that process is gone, delete {path}"
        )
    if previous.get("pid") not in (None, me["pid"]):
        print(f"taking over the lock of {directory}: {_describe(previous)} is no longer running", file=sys.stderr)
    me["started"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(me).encode())
    os.fsync(fd)
    _held[_identity(directory)] = (fd, path)


def release(directory: str | Path) -> None:
    """Give up the lock of ``directory`` (if this process holds it) and delete the lock file."""
    try:
        _drop(_identity(Path(directory)))
    except FileNotFoundError:  # the directory is gone, and its lock file with it
        pass


def _drop(key: tuple[int, int]) -> None:
    fd, path = _held.pop(key, (None, None))
    if fd is not None:
        path.unlink(missing_ok=True)  # deleted before the flock drops: see acquire
        os.close(fd)


@atexit.register
def _release_all() -> None:
    for key in list(_held):
        _drop(key)
