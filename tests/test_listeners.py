"""`serving.listeners`: a BentoML worker's shared listening socket replaced by one of its own (SO_REUSEPORT)."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from serving import listeners
from serving.listeners import listen_on_own_socket, own_listener_for_this_worker, worker_fd

WORKER = "/venv/lib/python3.11/site-packages/_bentoml_impl/worker/service.py"


def test_only_a_bentoml_workers_command_line_names_a_socket() -> None:
    assert worker_fd([WORKER, "serving.service:PartnerChurn", "--fd", "7", "--backlog", "2048"]) == 7
    assert worker_fd(["/usr/bin/pytest", "--fd", "7"]) is None
    assert worker_fd([WORKER, "serving.service:PartnerChurn"]) is None
    assert worker_fd([WORKER, "--fd"]) is None and worker_fd([]) is None
    with socket.socket() as lone:  # one worker: nothing to spread, and the shared socket keeps queuing through its restarts
        lone.bind(("127.0.0.1", 0))
        lone.listen(4)
        assert own_listener_for_this_worker([WORKER, "--fd", str(lone.fileno())], workers=1) is None
        assert lone.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0


@pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="listen_on_own_socket swaps sockets on Linux only (elsewhere SO_REUSEPORT does not balance, and it returns None: tested below)",
)
def test_two_workers_take_the_shared_sockets_place_and_both_get_connections() -> None:
    """As two workers do with the descriptor BentoML hands them: afterwards the shared socket takes no
    connection, each worker's descriptor is a listening socket of its own on the same address, and new
    connections reach both."""
    shared = socket.socket()
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as circus binds it: no SO_REUSEPORT
    shared.bind(("127.0.0.1", 0))
    shared.listen(64)
    address = shared.getsockname()
    workers = [os.dup(shared.fileno()) for _ in range(2)]  # each worker's inherited descriptor of the one socket
    try:
        assert [listen_on_own_socket(fd, 64) for fd in workers] == [address, address]
        listeners = [socket.socket(fileno=os.dup(fd)) for fd in workers]
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1 for s in listeners)
        assert all(s.getsockname() == address for s in listeners)
        clients = [socket.create_connection(address, timeout=5) for _ in range(64)]
        accepted = []
        for listener in listeners:
            listener.setblocking(False)
            count = 0
            while True:
                try:
                    listener.accept()[0].close()
                except BlockingIOError:
                    break
                count += 1
            accepted.append(count)
        assert sum(accepted) == len(clients) and min(accepted) > 0, accepted  # 64 over 2: one empty with chance 2**-63
        shared.setblocking(False)
        assert not isinstance(_accept_error(shared), BlockingIOError)  # stopped listening (EINVAL), not merely empty
        for client in clients:
            client.close()
        for listener in listeners:
            listener.close()
    finally:
        for fd in workers:
            os.close(fd)
        shared.close()


def _accept_error(sock: socket.socket) -> OSError:
    try:
        sock.accept()
    except OSError as error:
        return error
    raise AssertionError("the shared socket accepted a connection")


@pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="a failed bind can only happen where the swap runs, on Linux (elsewhere it returns None: tested below)",
)
def test_a_socket_that_cannot_bind_is_an_error_that_names_the_way_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's own socket fails to bind: the worker stops with the reason and the setting that keeps
    BentoML's shared socket, rather than serve on a socket that takes nothing."""
    shared = socket.socket()
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    shared.bind(("127.0.0.1", 0))
    shared.listen(8)
    fd = os.dup(shared.fileno())

    class Refused(socket.socket):
        def bind(self, address: object) -> None:
            raise OSError(98, "Address already in use")

    monkeypatch.setattr(listeners.socket, "socket", Refused)
    try:
        with pytest.raises(
            OSError, match=r"no listening socket of its own on 127\.0\.0\.1:\d+ \(Address already in use\); set serving\.listener_per_worker=false"
        ):
            listen_on_own_socket(fd, 8)
    finally:
        monkeypatch.undo()
        os.close(fd)
        shared.close()


def test_off_linux_the_shared_socket_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS has SO_REUSEPORT but neither balances it nor lets a second socket bind beside the shared one:
    there the worker keeps BentoML's socket, still listening."""
    monkeypatch.setattr(listeners.sys, "platform", "darwin")
    with socket.socket() as shared:
        shared.bind(("127.0.0.1", 0))
        shared.listen(4)
        assert listen_on_own_socket(shared.fileno(), 4) is None
        with socket.create_connection(shared.getsockname(), timeout=5):
            shared.accept()[0].close()


def test_a_socket_that_is_not_tcp_is_left_alone() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        assert listen_on_own_socket(udp.fileno(), 16) is None
        assert udp.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
