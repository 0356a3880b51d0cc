"""`run_supervised`: a command that starts processes of its own (as `bentoml serve` does) leaves none
behind when we are told to stop, or when it ends by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SPAWNER = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    if sys.argv[2] == "deaf":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleepers = [subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN) if %r == 'deaf' else None; time.sleep(600)" % sys.argv[2]],
                                 start_new_session=sys.argv[2] == "setsid")  # as BentoML's workers do
                for _ in range(2)]
    with open(sys.argv[1] + ".tmp", "w") as out:
        out.write(" ".join(str(p) for p in [os.getpid(), *(s.pid for s in sleepers)]))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    if sys.argv[2] == "leaves":
        sys.exit(3)  # ends, its two children still running
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _supervise(tmp_path: Path, behaviour: str, grace: float = 10.0) -> tuple[subprocess.Popen, list[int]]:
    pids = tmp_path / "pids"
    script = tmp_path / "spawner.py"
    script.write_text(SPAWNER)
    command = [sys.executable, str(script), str(pids), behaviour]
    own = tmp_path / "own"
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import os, subprocess, sys, time
            from partner_churn.processes import run_supervised
            mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # started before: not the command's
            code = run_supervised({command!r}, os.environ, grace_seconds={grace})
            open({str(own)!r}, "w").write(str(mine.poll() is None))
            mine.kill()
            sys.exit(code)
        """),
        ],
        start_new_session=True,  # signals reach only what we send them to, as from a service manager
    )
    deadline = time.monotonic() + 30
    while not pids.exists():
        assert supervisor.poll() is None or behaviour == "leaves", "the supervisor ended early"
        assert time.monotonic() < deadline, "the command did not start its processes"
        time.sleep(0.05)
    return supervisor, [int(p) for p in pids.read_text().split()]


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.parametrize("behaviour", ["normal", "setsid"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_to_us_stops_every_process_the_command_started(tmp_path: Path, signum: int, behaviour: str) -> None:
    """Also children that left the command's session (`setsid`, as BentoML's workers do)."""
    supervisor, pids = _supervise(tmp_path, behaviour)
    assert all(_alive(p) for p in pids)
    os.kill(supervisor.pid, signum)  # to the supervisor alone, not to its group
    assert supervisor.wait(timeout=30) == 128 + signum
    assert _wait_gone(pids, 5) == []
    assert (tmp_path / "own").read_text() == "True"  # the caller's own child was left alone


def test_processes_deaf_to_sigterm_are_killed_after_the_grace_period(tmp_path: Path) -> None:
    supervisor, pids = _supervise(tmp_path, "deaf", grace=1.0)
    started = time.monotonic()
    os.kill(supervisor.pid, signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 128 + signal.SIGTERM
    assert _wait_gone(pids, 5) == [] and time.monotonic() - started >= 1.0


def test_a_command_that_ends_by_itself_leaves_no_child_behind(tmp_path: Path) -> None:
    supervisor, pids = _supervise(tmp_path, "leaves")
    assert supervisor.wait(timeout=30) == 3
    assert _wait_gone(pids, 5) == []
    assert (tmp_path / "own").read_text() == "True"


def test_a_command_killed_by_a_signal_exits_the_shell_way(tmp_path: Path) -> None:
    supervisor, pids = _supervise(tmp_path, "normal")
    os.kill(pids[0], signal.SIGKILL)  # as the OOM killer would: not a signal we sent
    assert supervisor.wait(timeout=30) == 128 + signal.SIGKILL
    assert _wait_gone(pids, 5) == []
