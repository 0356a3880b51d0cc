"""The serving benchmark's servers: each command in its own session on a free loopback port, its output
in a log file, stopped with its whole session; readiness and process-tree figures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------------------------------
# Servers


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(first: int, last: int, taken: set[int]) -> int:
    for port in range(first, last + 1):
        if port not in taken and port_free(port):
            return port
    raise SystemExit(f"no free port in {first}-{last}")


class Server:
    """A server command in its own session, its output in a log file; stopped with its whole session."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.name, self.log = name, log
        self.started: set[int] = set()
        log.parent.mkdir(parents=True, exist_ok=True)
        self._out = log.open("wb")
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def pids(self) -> list[int]:
        """Every live process the server started: its session and all descendants (BentoML's workers call
        setsid, so they leave the session and the process group of the command)."""
        parent_of, session_of = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            fields = _stat(int(entry.name))
            if fields:
                parent_of[int(entry.name)], session_of[int(entry.name)] = int(fields[1]), int(fields[3])
        root = self.process.pid
        found = {pid for pid, sid in session_of.items() if sid == root}
        if root in parent_of:
            found.add(root)
        grew = True
        while grew:
            more = {pid for pid, parent in parent_of.items() if parent in found and pid not in found}
            found |= more
            grew = bool(more)
        return sorted(found)

    def cpu_by_pid(self) -> dict[int, float]:
        """User + system CPU seconds of each of the server's live processes."""
        found = {}
        for pid in self.pids():
            fields = _stat(pid)
            if fields:
                found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        return found

    def connections_by_pid(self, port: int) -> dict[int, int]:
        """Established client connections to `port` held by each process (from `ss`); {} without `ss`."""
        try:
            listed = subprocess.run(
                ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return {}
        counts: dict[int, int] = {}
        for line in listed.splitlines():
            for part in line.split("pid=")[1:]:
                pid = int(part.split(",")[0])
                counts[pid] = counts.get(pid, 0) + 1
        return counts

    def stop(self) -> None:
        """SIGTERM to the command's process group (the servers stop their own workers), then SIGKILL to
        every process of the server still alive after a grace period, workers outside the group too."""
        pids = set(self.pids())
        self.started |= pids
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and alive(pids):
            self.process.poll()  # reap the command itself
            time.sleep(0.2)
        left = alive(pids | set(self.pids()))
        if left:
            self.started |= left
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._out.close()

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, ...]; [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if _stat(pid)[:1] not in ([], ["Z"])}


def http_get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return 0


def http_post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:500]


def wait_ready(servers: list[tuple[Server, str]], timeout: float = 180.0) -> dict[str, float]:
    """Seconds each server took to answer its health check; exits with the server's log if one dies."""
    started, ready = time.perf_counter(), {}
    while len(ready) < len(servers):
        for server, url in servers:
            if server.name in ready:
                continue
            if server.process.poll() is not None:
                raise SystemExit(f"{server.name} exited with {server.process.returncode}:\n{server.tail()}")
            if http_get(url) == 200:
                ready[server.name] = time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            waiting = [s for s, _ in servers if s.name not in ready]
            raise SystemExit(f"not ready after {timeout:.0f} s: {[s.name for s in waiting]}\n{waiting[0].tail()}")
        time.sleep(0.5)
    return ready
