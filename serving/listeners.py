"""A listening socket of its own for every BentoML worker (SO_REUSEPORT), so a burst of new keep-alive
connections is spread over all workers by the kernel instead of landing on whichever wakes first.

BentoML's server binds one socket and hands it to every worker (`--fd N`); each worker's event loop
accepts every connection waiting when it wakes, so eight connections a client opens at once were
measured landing 8+0 on two workers: one core served, the other idled (docs/benchmarks.md). Here each
worker, while the service module is imported (before BentoML's worker starts its server on fd N):

1. stops the shared socket listening (`shutdown`; it stays bound, and open in BentoML's arbiter, but
   takes no connection from then on; a second worker finds it stopped already);
2. binds a socket of its own to the same address with SO_REUSEPORT (and SO_REUSEADDR, as the shared
   one was bound) and listens with the backlog BentoML was given;
3. puts it in place of fd N (`dup2`), so BentoML's worker serves on it unchanged.

The kernel then hashes each new connection to one of the workers' sockets. A worker that dies takes its
socket with it (connections waiting in its queue are reset); the worker started in its place binds anew.
Nothing happens outside a BentoML worker (tests, the CLI) or on a platform without SO_REUSEPORT.
"""

from __future__ import annotations

import os
import socket
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
    module's docstring); the address, or None when the socket at `fd` is not TCP or the platform cannot."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return None
    with socket.socket(fileno=os.dup(fd)) as shared:
        if shared.family not in (socket.AF_INET, socket.AF_INET6) or shared.type != socket.SOCK_STREAM:
            return None
        address = shared.getsockname()
        try:
            shared.shutdown(socket.SHUT_RDWR)  # no longer listening: every connection goes to the workers' own sockets
        except OSError:  # another worker stopped it already
            pass
        with socket.socket(shared.family, socket.SOCK_STREAM) as own:
            own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            own.bind(address)
            own.listen(backlog)
            os.dup2(own.fileno(), fd)  # fd now refers to this worker's socket; the `with` closes only the spare
    return str(address[0]), int(address[1])


def own_listener_for_this_worker(argv: Sequence[str]) -> tuple[str, int] | None:
    """`listen_on_own_socket` for this process when it is a BentoML worker (its `--fd` and `--backlog`)."""
    fd = worker_fd(argv)
    if fd is None:
        return None
    backlog = _option(argv, "--backlog")
    return listen_on_own_socket(fd, int(backlog) if backlog and backlog.isdigit() else socket.SOMAXCONN)
