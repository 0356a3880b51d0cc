"""What training reads of a program, on either engine: an outline of the whole program and its rows at cutoffs.

Training never needs the events themselves, only (1) an outline of the program: its first sign-up and last
event, its event counts by type, the presence of survey answers and actions, and an order-free content hash;
(2) the dataset (`training.datasets.build_dataset`) at the cutoffs a plan asks for; (3) the program context at
the end of the data, shipped with the models. `local_source` gives them from a program in memory; the dask
engine (`training.partitioned.source_on`) from the partitions on a cluster: outline parts combined, rows built
partition by partition with the whole program's context. Both give equal answers, so training is one code path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features.contract import Program
from features.pipeline import ProgramContext, check_cutoffs, label_cutoffs, program_context
from partner_churn.config import Config
from training.datasets import build_dataset

HASHED_COLUMNS = {"partners": ["partner_id", "signup_at"], "events": ["partner_id", "ts", "event_type", "amount"]}
"""The columns a program's content hash covers, per table."""


@dataclass(frozen=True)
class ProgramOutline:
    """What training needs to know of the whole program besides its rows (one partition's, or their combination)."""

    partners: int
    events: int
    first_signup: pd.Timestamp | None
    first_event: pd.Timestamp | None
    last_event: pd.Timestamp | None
    events_by_type: dict[str, int]
    survey_answers: int
    actions: int
    row_hash_sums: dict[str, int]
    """Per table of HASHED_COLUMNS, the sum (mod 2**64) of pandas' row hashes: the same for any order or split."""


def outline_of(program: Program) -> ProgramOutline:
    """The outline of a program, or of one partition of it."""
    events, partners = program.events, program.partners
    counts = events["event_type"].value_counts()
    return ProgramOutline(
        partners=len(partners),
        events=len(events),
        first_signup=partners["signup_at"].min() if len(partners) else None,
        first_event=events["ts"].min() if len(events) else None,
        last_event=events["ts"].max() if len(events) else None,
        events_by_type={str(t): int(n) for t, n in counts.items() if n > 0},
        survey_answers=0 if program.surveys is None else len(program.surveys),
        actions=0 if program.actions is None else len(program.actions),
        row_hash_sums={table: _hash_sum(frame[HASHED_COLUMNS[table]]) for table, frame in (("partners", partners), ("events", events))},
    )


def combine_outlines(parts: Sequence[ProgramOutline]) -> ProgramOutline:
    """The outline of the program whose partitions these are (in any order)."""

    def extreme(values: list[pd.Timestamp | None], pick: Callable) -> pd.Timestamp | None:
        present = [v for v in values if v is not None]
        return pick(present) if present else None

    by_type: dict[str, int] = {}
    for part in parts:
        for event_type, n in part.events_by_type.items():
            by_type[event_type] = by_type.get(event_type, 0) + n
    return ProgramOutline(
        partners=sum(p.partners for p in parts),
        events=sum(p.events for p in parts),
        first_signup=extreme([p.first_signup for p in parts], min),
        first_event=extreme([p.first_event for p in parts], min),
        last_event=extreme([p.last_event for p in parts], max),
        events_by_type=dict(sorted(by_type.items(), key=lambda item: -item[1])),
        survey_answers=sum(p.survey_answers for p in parts),
        actions=sum(p.actions for p in parts),
        row_hash_sums={table: sum(p.row_hash_sums[table] for p in parts) % 2**64 for table in HASHED_COLUMNS},
    )


def _hash_sum(frame: pd.DataFrame) -> int:
    """The sum mod 2**64 of the frame's row hashes (numpy's unsigned sum wraps); categorical columns hash by value,
    so a partition's categories do not change it."""
    return int(pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64).sum(dtype=np.uint64))


DatasetAt = Callable[[list[pd.Timestamp], Config], pd.DataFrame]
"""`build_dataset` of the whole program at these cutoffs under this config (rows by cutoff, then partner order)."""
ContextAt = Callable[[list[pd.Timestamp], Config], ProgramContext]
"""The whole program's context at these cutoffs under this config."""


@dataclass(frozen=True)
class TrainingSource:
    """A program as training reads it, whatever the engine."""

    outline: ProgramOutline
    dataset_at: DatasetAt
    context_at: ContextAt


def sample_share(outline: ProgramOutline, config: Config) -> float:
    """The share of the program's partners that training reads: about `training.max_partners` of them (1.0: all)."""
    limit = config.training.max_partners
    return 1.0 if not limit or outline.partners <= limit else limit / outline.partners


def in_sample(partner_ids: object, share: float) -> np.ndarray:
    """Whether each partner is in the training sample of this share: its id's hash (pandas' fixed key) below
    share x 2**64, so a partner is in or out whatever the engine, the partitioning or the run."""
    ids = np.asarray(partner_ids, dtype=object).astype(str)
    if share >= 1.0:
        return np.ones(len(ids), dtype=bool)
    return pd.util.hash_array(ids.astype(object)) < np.uint64(int(share * 2.0**64))


def sampled(program: Program, share: float) -> Program:
    """The program's partners in the training sample of `share`, with their events and survey answers."""
    if share >= 1.0:
        return program
    partners = program.partners[in_sample(program.partners["partner_id"], share)].reset_index(drop=True)

    def of_kept(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        rows = frame[frame["partner_id"].isin(partners["partner_id"])].reset_index(drop=True)  # a categorical by its categories
        if isinstance(rows["partner_id"].dtype, pd.CategoricalDtype):  # categorical over the partners, in their order
            rows["partner_id"] = rows["partner_id"].cat.set_categories(partners["partner_id"])
        return rows

    events = of_kept(program.events)
    assert events is not None
    return replace(program, partners=partners, events=events, surveys=of_kept(program.surveys), actions=of_kept(program.actions))


def local_source(program: Program) -> TrainingSource:
    """The program in memory, on this process. With `training.max_partners`, the rows of its sample only, built
    with the whole program's context (as the dask engine builds a partition's rows)."""
    outline = outline_of(program)
    partners, events, surveys = program.partners, program.events, program.surveys

    def dataset_at(cutoffs: list[pd.Timestamp], config: Config) -> pd.DataFrame:
        share = sample_share(outline, config)
        if share >= 1.0:
            return build_dataset(partners, events, cutoffs, config, data_end=outline.last_event, surveys=surveys)
        context = program_context(partners, events, label_cutoffs(check_cutoffs(cutoffs), config, data_end=outline.last_event), config)
        sample = sampled(program, share)
        return build_dataset(sample.partners, sample.events, cutoffs, config, data_end=outline.last_event, surveys=sample.surveys, program=context)

    def context_at(cutoffs: list[pd.Timestamp], config: Config) -> ProgramContext:
        return program_context(partners, events, cutoffs, config)

    return TrainingSource(outline, dataset_at, context_at)
