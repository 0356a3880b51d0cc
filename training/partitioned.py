"""Training's rows from the partitions of whole partners on a Dask cluster (`train` / `backtest --engine dask`).

The rows are built where the data is: each task loads one partition through the contract and runs
`build_dataset` on it, with the whole program's context at the cutoffs and at their horizons' ends (from a
first pass, `features.partitioned.program_figures_on`), so its rows equal the local engine's rows of those
partners. The rows are gathered here and the models are trained on this process exactly as on the local
engine (`training.train.train_from`): early stopping, calibration and the folds unchanged. That holds while
the rows fit one process's memory (about 1M partners x 12 cutoffs of active rows as float32); past that,
`lightgbm.dask` would be the way, and it is not offered yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from features.contract import load_program
from features.partitioned import gathered_on, mapped_on, program_figures_on
from features.pipeline import ProgramContext, check_cutoffs, label_cutoffs
from partner_churn.config import Config
from training.datasets import build_dataset
from training.source import ProgramOutline, TrainingSource, combine_outlines, outline_of, sample_share, sampled


def _outline_of_partition(data_dir: Path, partition: int | None, as_of: pd.Timestamp, config: Config) -> ProgramOutline:
    return outline_of(load_program(data_dir, config.data, as_of, partition=partition))


def _dataset_of_partition(
    data_dir: Path,
    partition: int | None,
    as_of: pd.Timestamp,
    cutoffs: pd.DatetimeIndex,
    config: Config,
    context: ProgramContext,
    data_end: pd.Timestamp,
    share: float,
) -> pd.DataFrame:
    program = sampled(load_program(data_dir, config.data, as_of, partition=partition), share)
    return build_dataset(program.partners, program.events, list(cutoffs), config, data_end=data_end, surveys=program.surveys, program=context)


def source_on(client: Any, data_dir: Path, as_of: pd.Timestamp, config: Config) -> TrainingSource:
    """The program in the folder (loaded as of `as_of`) as training reads it, its rows built on the cluster of
    `client`; the outline's pass runs now, each `dataset_at` runs two passes (context, then rows)."""
    outline = combine_outlines(client.gather(mapped_on(client, data_dir, _outline_of_partition, as_of=as_of, config=config)))

    def context_at(cutoffs: list[pd.Timestamp], config: Config) -> ProgramContext:
        return program_figures_on(client, data_dir, as_of, cutoffs, config).context

    def dataset_at(cutoffs: list[pd.Timestamp], config: Config) -> pd.DataFrame:
        stamps = check_cutoffs(cutoffs)
        data_end = outline.last_event
        context = context_at(list(label_cutoffs(stamps, config, data_end=data_end)), config)
        share = sample_share(outline, config)
        return gathered_on(
            client, data_dir, _dataset_of_partition, as_of=as_of, cutoffs=stamps, config=config, context=context, data_end=data_end, share=share
        )

    return TrainingSource(outline, dataset_at, context_at)
