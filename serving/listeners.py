"""A listening socket of its own for every BentoML worker (SO_REUSEPORT), so a burst of new keep-alive
connections is spread over all workers by the kernel instead of landing on whichever wakes first.

BentoML's server binds one socket and hands it to every worker (`--fd N`); each worker's event loop
accepts every connection waiting when it wakes, so eight connections a client opens at once were
measured landing 8+0 on two workers: one core served, the other idled (docs/benchmarks.md). Here each
worker, once its models are loaded and just before BentoML's worker starts accepting on fd N (the end of
the service's `__init__`, which BentoML runs in the server's start-up):

1. stops the shared socket listening (`shutdown`; it stays bound, and open in BentoML's arbiter, but
   takes no connection from then on; a worker that comes later finds it stopped already);
2. binds a socket of its own to the same address with SO_REUSEPORT (and SO_REUSEADDR, as the shared
   one was bound) and listens with the backlog BentoML was given;
3. puts it in place of fd N (`dup2`), so BentoML's worker serves on it unchanged.

The kernel then hashes each new connection to one of the ready workers' sockets, without regard to how
busy each is. What it costs: a worker that stops (crash, restart) resets the connections that were hashed
to its socket and not yet accepted (with the shared socket another worker would have taken them), and
another process of the same user could bind the port with SO_REUSEPORT and take a share. Only on Linux
(macOS has SO_REUSEPORT but neither balances nor lets the new socket beside the shared one) and with more
than one worker; outside a BentoML worker (tests, the CLI) nothing happens. Should the new socket fail to
bind (not seen on Linux: the port is this service's), the worker stops with an error naming the setting
that turns this off; a stopped socket cannot be made to listen again.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

WORKER_SCRIPT = Path("_bentoml_impl") / "worker" / "service.py"
"""The script BentoML starts each worker as (`python -m _bentoml_impl.worker.service ... --fd N`)."""


def _option(argv: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[i + 1]
    return None


def worker_fd(argv: Sequence[str]) -> int | None:
    """The listening socket's file descriptor when `argv` is a BentoML worker's, else None."""
    if not argv or not Path(argv[0]).as_posix().endswith(WORKER_SCRIPT.as_posix()):
        return None
    fd = _option(argv, "--fd")
    return int(fd) if fd is not None and fd.isdigit() else None


def listen_on_own_socket(fd: int, backlog: int) -> tuple[str, int] | None:
    """Replace the shared listening socket at `fd` by one of this process's own on the same address (see the
    module's docstring); the address, or None when the socket at `fd` is not TCP or the platform cannot;
    OSError naming `serving.listener_per_worker` when the new socket cannot bind."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return None
    with socket.socket(fileno=os.dup(fd)) as shared:
        if shared.family not in (socket.AF_INET, socket.AF_INET6) or shared.type != socket.SOCK_STREAM:
            return None
        address = shared.getsockname()
        try:
            shared.shutdown(socket.SHUT_RDWR)  # no longer listening: every connection goes to the workers' own sockets
        except OSError:  # a worker before this one stopped it already
            pass
        try:
            with socket.socket(shared.family, socket.SOCK_STREAM) as own:
                own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                own.bind(address)
                own.listen(backlog)
                os.dup2(own.fileno(), fd)  # fd now refers to this worker's socket; the `with` closes only the spare
        except OSError as error:  # a stopped socket cannot listen again (Linux accepts listen() but takes nothing)
            raise OSError(
                error.errno,
                f"worker {os.getpid()}: no listening socket of its own on {address[0]}:{address[1]} ({error.strerror or error}); "
                "set serving.listener_per_worker=false to serve on BentoML's shared socket",
            ) from None
    return str(address[0]), int(address[1])


def own_listener_for_this_worker(argv: Sequence[str], workers: int) -> tuple[str, int] | None:
    """`listen_on_own_socket` for this process when it is a BentoML worker (its `--fd` and `--backlog`) of
    a service with more than one worker."""
    fd = worker_fd(argv)
    if fd is None or workers < 2:
        return None
    backlog = _option(argv, "--backlog")
    return listen_on_own_socket(fd, int(backlog) if backlog and backlog.isdigit() else socket.SOMAXCONN)
