"""One process at a time: a kernel lock (flock) on a file, which goes with the process, even on kill -9."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from partner_churn.errors import InputError

POLL_SECONDS = 0.2


@contextmanager
def process_lock(path: Path, what: str, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lock file `path` for the block. Another holder: wait up to `wait_seconds` for it (0: not at
    all), then InputError "another {what} is running (process N, lock PATH)". The holder writes its process
    id into the file, for that message."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    except OSError as exc:
        raise InputError(f"cannot lock {what} ({path}): {exc.strerror or exc}") from None
    with handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    waited = f" (waited {wait_seconds:.0f} s)" if wait_seconds else ""
                    raise InputError(f"another {what} is running (process {holder}, lock {path}){waited}: wait for it to finish") from None
                time.sleep(POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
