"""Outputs written whole or not at all."""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

RENAME_EXCHANGE = 2
AT_FDCWD = -100
PART_GLOB = "part-*.parquet"
"""The part files of a folder written in parts (`part_name`)."""


def part_name(index: int) -> str:
    """The file of part `index` of a folder written in parts: part-00000.parquet, ..."""
    return f"part-{index:05d}.parquet"


def is_part_name(name: str) -> bool:
    return re.fullmatch(r"part-\d{5}\.parquet", name) is not None


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


def give_parts_one_schema(folder: Path, target: pa.Schema | None = None) -> None:
    """Give every `part-*.parquet` in `folder` the same column types, as one frame of all their rows would have
    them: `target`'s (a whole frame's), or else the parts' own, promoted (integer with float is float). A column
    null throughout where the target was made takes its type from a part that holds values. Parquet readers of
    a folder take the first part's types for every part, so a part of a partition without a sale (integer
    revenue) or without a value in some column (null) would break them."""
    files = sorted(folder.glob(PART_GLOB))
    schemas = [pq.read_schema(path) for path in files]
    if not schemas:
        return
    target = target or pa.unify_schemas(schemas, promote_options="permissive")
    kinds = {field.name: field.type for field in target}
    for schema in schemas:
        for field in schema:
            if pa.types.is_null(kinds.get(field.name, pa.int8())) and not pa.types.is_null(field.type):
                kinds[field.name] = field.type
    target = pa.schema([pa.field(name, kinds[name]) for name in target.names], metadata=target.metadata)
    for path, schema in zip(files, schemas):
        if not schema.equals(target, check_metadata=False):
            pq.write_table(pq.read_table(path).select(target.names).cast(target), path)


def write_folder_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """`write` a staging folder beside `path`, then swap it in for whatever `path` was (a folder or a file) in one
    step (`exchange_folders`, else a rename after removing the old): a reader sees the old or the new, never a
    half-written folder; a failed write leaves the old and no staging folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.staging-"
    remove_leftovers_of_dead_processes(path.parent, prefix)  # of a writer killed before it finished
    staging = path.with_name(f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        staging.mkdir()
        write(staging)
        swap_in_folder(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def swap_in_folder(staging: Path, path: Path) -> None:
    """`staging` (a finished folder) becomes `path`: swapped with a previous `path` in one step
    (`exchange_folders`; the staging path then holds the old one, removed after, or by the next writer if this
    one is killed first: `remove_leftovers_of_dead_processes`). Where that call is missing, the previous `path`
    is moved aside first and removed after."""
    if not path.exists():
        os.replace(staging, path)
        return
    if exchange_folders(staging, path):
        _remove(staging)
        return
    old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(path, old)
    os.replace(staging, path)
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
