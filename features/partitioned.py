"""The feature pipeline over the partitions of whole partners, on a Dask cluster (`--engine dask`).

Nothing is computed differently here: each task loads one partition through the contract
(`load_program(..., partition=k)`) and runs the pipeline's own functions on it. What a partner's features
need of the rest of the program (program revenue per window, the star threshold) comes from a first pass,
`context_part` per partition combined by `combine_context`, and is passed to every partition's
`build_features`, so the features equal the local engine's: the same per-partner arithmetic, and program
figures that do not depend on the partitioning. A plain (unpartitioned) folder is one partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract import load_program
from features.contract.partitions import read_partitioning
from features.pipeline import ContextPart, ProgramContext, build_features, build_labels, check_cutoffs, combine_context, context_part, label_cutoffs
from partner_churn.config import Config
from partner_churn.domain import EventSpan, combine_spans, event_span


def partitions_of(data_dir: Path) -> list[int | None]:
    """The partitions to map over: 0..N-1 of a partitioned folder, or [None] (the whole folder) for a plain one."""
    layout = read_partitioning(Path(data_dir))
    return [None] if layout is None else list(range(layout.partitions))


def _first_pass_of_partition(
    data_dir: Path, partition: int | None, as_of: pd.Timestamp, cutoffs: pd.DatetimeIndex, config: Config
) -> tuple[EventSpan | None, ContextPart]:
    program = load_program(data_dir, config.data, as_of, partition=partition)
    return event_span(program.events), context_part(program.partners, program.events, cutoffs, config)


def _features_of_partition(
    data_dir: Path, partition: int | None, as_of: pd.Timestamp, cutoffs: pd.DatetimeIndex, config: Config, context: ProgramContext
) -> pd.DataFrame:
    program = load_program(data_dir, config.data, as_of, partition=partition)
    return build_features(program.partners, program.events, cutoffs, config, program=context, surveys=program.surveys)


@dataclass(frozen=True)
class ProgramFigures:
    """What the first pass finds of the whole program: its event span and its context at the cutoffs."""

    span: EventSpan | None
    context: ProgramContext


def program_figures_on(client: Any, data_dir: Path, as_of: pd.Timestamp, cutoffs: Sequence[pd.Timestamp], config: Config) -> ProgramFigures:
    """The first pass: every partition loaded and checked once, its event span and context part combined."""
    found = client.gather(mapped_on(client, data_dir, _first_pass_of_partition, as_of=as_of, cutoffs=check_cutoffs(cutoffs), config=config))
    return ProgramFigures(combine_spans([span for span, _ in found]), combine_context([part for _, part in found], config))


def build_features_on(
    client: Any, data_dir: Path, as_of: pd.Timestamp, cutoffs: Sequence[pd.Timestamp], config: Config, *, context: ProgramContext | None = None
) -> pd.DataFrame:
    """`build_features` of the whole program, computed partition by partition on the cluster of `client`; the
    rows in the order the local engine gives them for the same folder (by cutoff, then partition, then the
    partition's partner order). `context`: the program's figures at `cutoffs` when a first pass already has
    them (else one is run)."""
    stamps = check_cutoffs(cutoffs)
    context = context or program_figures_on(client, data_dir, as_of, stamps, config).context
    return in_local_order(client.gather(partition_features_on(client, data_dir, as_of, stamps, config, context=context)))


def in_local_order(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The partitions' rows (frames in partition order) in the local engine's order for the same folder: by
    cutoff (`as_of`), then partition, then the partition's own partner order."""
    return pd.concat(frames, ignore_index=True).sort_values("as_of", kind="stable", ignore_index=True)


def mapped_on(client: Any, data_dir: Path, task: Any, **arguments: Any) -> list[Any]:
    """The futures of `task(data_dir, partition, **arguments)` on every partition of the folder on the cluster, in
    `partitions_of` order (never taken from a cache: each run reads the files as they are)."""
    parts = partitions_of(data_dir)
    return list(client.map(task, [data_dir] * len(parts), parts, pure=False, **arguments))


def gathered_on(client: Any, data_dir: Path, task: Any, **arguments: Any) -> pd.DataFrame:
    """`task(data_dir, partition, **arguments)` on every partition of the folder on the cluster, its rows gathered
    `in_local_order`."""
    return in_local_order(client.gather(mapped_on(client, data_dir, task, **arguments)))


def partition_features_on(
    client: Any, data_dir: Path, as_of: pd.Timestamp, cutoffs: Sequence[pd.Timestamp], config: Config, *, context: ProgramContext
) -> list[Any]:
    """The futures of every partition's `build_features` on the cluster (in `partitions_of` order), left on the
    workers for the steps that follow there; `context`: the first pass's program figures at `cutoffs`."""
    return mapped_on(client, data_dir, _features_of_partition, as_of=as_of, cutoffs=check_cutoffs(cutoffs), config=config, context=context)


def _labels_of_partition(
    data_dir: Path,
    partition: int | None,
    as_of: pd.Timestamp,
    cutoffs: pd.DatetimeIndex,
    config: Config,
    context: ProgramContext,
    data_end: pd.Timestamp,
) -> pd.DataFrame:
    program = load_program(data_dir, config.data, as_of, partition=partition)
    return build_labels(program.partners, program.events, cutoffs, config, data_end=data_end, program=context)


def build_labels_on(
    client: Any, data_dir: Path, as_of: pd.Timestamp, cutoffs: Sequence[pd.Timestamp], config: Config, *, data_end: pd.Timestamp
) -> pd.DataFrame:
    """`build_labels` of the whole program, partition by partition on the cluster, with the program's context at
    the cutoffs and at their horizons' ends from a first pass; rows in the local engine's order."""
    stamps = check_cutoffs(cutoffs)
    context = program_figures_on(client, data_dir, as_of, list(label_cutoffs(stamps, config, data_end=data_end)), config).context
    return gathered_on(client, data_dir, _labels_of_partition, as_of=as_of, cutoffs=stamps, config=config, context=context, data_end=data_end)
