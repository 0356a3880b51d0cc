"""Where `--engine dask` runs: a Dask client on an existing scheduler (`compute.scheduler`) or on a LocalCluster.

Only the connection lives here; what runs on the cluster is the layers' own functions, mapped over the
partitions of whole partners (`features.partitioned`). An unreachable scheduler is the user's to fix:
one line (`InputError`, exit 2), never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from partner_churn.config import ComputeConfig
from partner_churn.errors import InputError


@contextmanager
def dask_client(compute: ComputeConfig) -> Iterator[Any]:
    """A `distributed.Client` for the duration of the block; a LocalCluster it started is closed after it."""
    from distributed import Client, LocalCluster

    if compute.scheduler:
        try:
            client = Client(compute.scheduler, timeout=compute.connect_timeout_seconds, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise InputError(
                f"compute.scheduler {compute.scheduler}: cannot reach the Dask scheduler within {compute.connect_timeout_seconds:g} s "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'})"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=compute.workers,
        threads_per_worker=1,
        processes=compute.processes,
        memory_limit=compute.memory_limit,
        dashboard_address=":0",  # no fixed port to collide on (two commands at once)
        silence_logs=logging.CRITICAL,  # a task's error reaches the user as one line from the client, not as a worker log
    )
    try:
        with Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        cluster.close()


def describe_client(client: Any) -> str:
    """e.g. 'a Dask LocalCluster of 2 workers' or 'the Dask scheduler tcp://10.0.0.5:8786 (8 workers)'."""
    workers = len(client.scheduler_info().get("workers", {}))
    cluster = getattr(client, "cluster", None)
    if cluster is not None and type(cluster).__name__ == "LocalCluster":
        return f"a Dask LocalCluster of {workers} worker{'s' if workers != 1 else ''}"
    return f"the Dask scheduler {client.scheduler.address} ({workers} worker{'s' if workers != 1 else ''})"
