"""Outputs written whole or not at all."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path

RENAME_EXCHANGE = 2
AT_FDCWD = -100


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """`write` a temporary file beside `path`, then rename it over `path` in one step: a reader sees the old
    file or the new one, never half of one; a failed write leaves the old file and no temporary one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(scratch)
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return path


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (of any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        return True
    return True


def remove_leftovers_of_dead_processes(folder: Path, prefix: str) -> list[Path]:
    """Remove what processes that are gone left in `folder` under `prefix<pid>-...` (a staging folder of a
    writer killed before it finished); a live process's are left alone. The removed paths."""
    removed = []
    for path in folder.glob(f"{prefix}*") if folder.is_dir() else []:
        pid = path.name.removeprefix(prefix).split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def exchange_folders(first: Path, second: Path) -> bool:
    """Swap two existing folders in one step with Linux's renameat2(RENAME_EXCHANGE): a reader, or a crash, sees
    each path with its old or its new contents, never without one. False where the call is missing (another
    OS, a file system without it): the caller falls back to renames one after the other."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
            return True
        error = ctypes.get_errno()
        if error not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(error, os.strerror(error), str(second))
    except AttributeError:  # no renameat2 in this C library
        pass
    return False
