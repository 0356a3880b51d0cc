"""Child processes that stop when we are stopped: one helper for commands that start a server.

`bentoml serve` starts an arbiter and worker processes, and its workers call `setsid`, so they leave
the command's process group. Started with `subprocess.call`, a SIGTERM to `partner-churn serve` ended
only our process and left the server and its workers running. Here the command runs in a session of
its own; SIGTERM, SIGINT and SIGHUP to this process are passed to its process group, and every process
it started that is still alive `grace_seconds` later, or after the command itself ended, is stopped
and then killed. "Every process it started" is found by parent links (psutil), whatever group they
moved to; this process becomes a child subreaper (Linux `prctl`), so that descendants orphaned by
their parent's end are re-parented to it rather than lost to the system's first process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

import psutil

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
POLL_SECONDS = 0.2
FAMILY_EVERY_SECONDS = 1.0
"""How often the command's descendants are listed (a listing reads /proc: about a millisecond)."""
PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process (Linux 3.4+); False where it cannot be."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _live(processes: dict[int, psutil.Process]) -> list[psutil.Process]:
    """The processes still running (a zombie has ended: it only waits for its parent to read its code)."""
    live = []
    for process in processes.values():
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                live.append(process)
        except psutil.NoSuchProcess:
            pass
    return live


def _grow(family: dict[int, psutil.Process], leader: psutil.Process) -> None:
    """Add the leader's present descendants to `family` (psutil keys them by pid and start time)."""
    try:
        for process in leader.children(recursive=True):
            family.setdefault(process.pid, process)
    except psutil.NoSuchProcess:
        pass


def _stop(processes: list[psutil.Process], grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL to what is still running `grace_seconds` later."""
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + grace_seconds
    while (left := _live({p.pid: p for p in processes})) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    for process in left:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def run_supervised(command: Sequence[str], env: Mapping[str, str], *, grace_seconds: float = 30.0) -> int:
    """Run `command` until it ends or this process is told to stop; the exit code, 128 + the signal's
    number when stopped by one (ours, or one that killed the command). No process the command started
    outlives the call; processes this one had started before are left alone."""
    received: list[int] = []
    family: dict[int, psutil.Process] = {}
    leader: psutil.Process | None = None  # the command, once started

    def pass_on(signum: int) -> None:
        assert leader is not None
        _grow(family, leader)
        try:
            os.killpg(leader.pid, signum)  # its own session: the pid is the group's
        except (ProcessLookupError, PermissionError):
            pass

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if leader is not None:  # before the command exists, the signal is kept and passed on once it does
            pass_on(signum)

    ours_before = {process.pid for process in psutil.Process().children(recursive=True)}
    previous: dict[int, Any] = {}
    try:
        previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}  # before the child: no gap
        _become_subreaper()
        child = subprocess.Popen(list(command), env=dict(env), start_new_session=True)
        leader = psutil.Process(child.pid)
        if received:
            pass_on(received[0])
        code = _wait(child, leader, family, received, grace_seconds)
        forced = code is None
        orphans = {pid: process for pid, process in _descendants(psutil.Process()).items() if pid not in ours_before}
        family |= orphans  # re-parented to us (the subreaper) when their parent ended
        _stop(_live(family), 0.0 if forced else grace_seconds)  # the grace is spent once
        code = child.wait() if code is None else code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        return 128 + received[0]
    return code if code >= 0 else 128 - code  # killed by a signal we did not send: the shell's convention


def _wait(
    child: subprocess.Popen, leader: psutil.Process, family: dict[int, psutil.Process], received: list[int], grace_seconds: float
) -> int | None:
    """The command's exit code once it ends; None when it outlived the grace after a stop signal and was
    killed. Its descendants are listed into `family` as it runs."""
    deadline: float | None = None
    listed = 0.0
    while True:
        if time.monotonic() - listed > FAMILY_EVERY_SECONDS:
            _grow(family, leader)
            listed = time.monotonic()
        try:
            return child.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        if received and deadline is None:
            deadline = time.monotonic() + grace_seconds
        if deadline is not None and time.monotonic() > deadline:
            _grow(family, leader)
            _stop([leader], 0.0)
            return None


def _descendants(process: psutil.Process) -> dict[int, psutil.Process]:
    found: dict[int, psutil.Process] = {}
    _grow(found, process)
    return found
