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
_held: dict[Path, int] = {}  # run directory → the open lock file descriptor


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
    directory = Path(directory).resolve()
    if directory in _held:
        return
    directory.mkdir(parents=True, exist_ok=True)
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
    _held[directory] = fd


def release(directory: str | Path) -> None:
    """Give up the lock of ``directory`` (if this process holds it) and delete the lock file."""
    fd = _held.pop(Path(directory).resolve(), None)
    if fd is not None:
        Path(directory, LOCK).unlink(missing_ok=True)  # deleted before the flock drops: see acquire
        os.close(fd)


@atexit.register
def _release_all() -> None:
    for directory in list(_held):
        release(directory)
