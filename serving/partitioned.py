"""The scoring's inputs from the partitions of whole partners on a Dask cluster (`score --engine dask`).

One first pass loads each partition through the contract and returns what the scoring needs of the whole
program: its event span (the scoring date's check), its part of the program context (revenue shares, the
star threshold) and its part of the owner KPIs (`serving.kpis.kpi_part`); combined, they are the same
figures the local engine computes from the program in one piece. The second pass is the features
(`features.partitioned.build_features_on`) with that context. Everything after, the models, actions, reasons
and outputs, runs on the gathered features exactly as on the local engine (`serving.batch.score_features`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract import load_program
from features.partitioned import partitions_of
from features.pipeline import ContextPart, ProgramContext, combine_context, context_part
from partner_churn.config import Config
from partner_churn.domain import EventSpan, combine_spans, event_span
from serving.kpis import EventFacts, KpiPart, combine_kpi_parts, kpi_part


@dataclass(frozen=True)
class ProgramFacts:
    """What the scoring needs of the whole program besides each partner's features."""

    span: EventSpan | None
    context: ProgramContext
    kpis: EventFacts


def _facts_of_partition(
    data_dir: Path, partition: int | None, as_of: pd.Timestamp, cutoff: pd.Timestamp, config: Config
) -> tuple[EventSpan | None, ContextPart, KpiPart]:
    program = load_program(data_dir, config.data, as_of, partition=partition)
    return (
        event_span(program.events),
        context_part(program.partners, program.events, [cutoff], config),
        kpi_part(program.partners, program.events, cutoff, config, surveys=program.surveys),
    )


def program_facts_on(client: Any, data_dir: Path, as_of: pd.Timestamp, cutoff: pd.Timestamp, config: Config) -> ProgramFacts:
    """The first pass over every partition (loaded as of `as_of`) for a scoring at `cutoff`."""
    parts = partitions_of(data_dir)
    found = client.gather(client.map(_facts_of_partition, [data_dir] * len(parts), parts, as_of=as_of, cutoff=cutoff, config=config, pure=False))
    return ProgramFacts(
        span=combine_spans([span for span, _, _ in found]),
        context=combine_context([context for _, context, _ in found], config),
        kpis=combine_kpi_parts([kpis for _, _, kpis in found], cutoff, config),
    )
