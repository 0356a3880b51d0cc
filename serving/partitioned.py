"""The scoring's inputs from the partitions of whole partners on a Dask cluster (`score --engine dask`).

One first pass loads each partition through the contract and returns what the scoring needs of the whole
program: its event span (the scoring date's check), its part of the program context (revenue shares, the
star threshold) and its part of the owner KPIs (`serving.kpis.kpi_part`); combined, they are the same
figures the local engine computes from the program in one piece. The second pass is the features
with that context, and the scoring's steps per partition (`score_on`): each partition's rows are scored on
its worker with the functions the local engine runs on the whole program (`serving.batch`), and only the
small columns that whole-program decisions need travel between the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract import load_program
from features.partitioned import mapped_on, partition_features_on
from features.pipeline import ContextPart, ProgramContext, combine_context, context_part
from partner_churn.config import Config
from partner_churn.domain import EventSpan, combine_spans, event_span
from retention.actions import ActionTable
from scoring.scores import ScoringModels, typical_workhorse_revenue, workhorse_revenues
from serving.batch import RiskListPlan, empty_risk_list, finished_part, plan_rows, scored_part, summary_rows
from serving.core import PreviousScoring
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
    found = client.gather(mapped_on(client, data_dir, _facts_of_partition, as_of=as_of, cutoff=cutoff, config=config))
    return ProgramFacts(
        span=combine_spans([span for span, _, _ in found]),
        context=combine_context([context for _, context, _ in found], config),
        kpis=combine_kpi_parts([kpis for _, _, kpis in found], cutoff, config),
    )


def score_on(
    client: Any,
    data_dir: Path,
    as_of: pd.Timestamp,
    cutoff: pd.Timestamp,
    config: Config,
    models: ScoringModels,
    actions: ActionTable,
    *,
    context: ProgramContext,
    previous: PreviousScoring | None,
    scored_at: pd.Timestamp,
    write_part: Callable[[int, pd.DataFrame], object],
    text_rows: int,
) -> pd.DataFrame:
    """The risk list of the program at `cutoff`, scored partition by partition on the cluster with the steps of
    the local engine's `score_features` (`scored_part`, `RiskListPlan`, `finished_part`), so its rows equal
    the local engine's. What only the whole program decides comes from small columns gathered between the
    steps: the typical Workhorse's revenue, each owner's capacity, every row's place in the list.

    Each finished partition (its partners in risk-list order, every column) goes to `write_part(k, rows)` as
    it arrives and is then let go: the command's process never holds every partner's reasons. Returns the
    `summary_rows` of every partition (texts only in the first `text_rows` rows and the week's contacts), in
    risk-list order, for the top files, the report and the score history.
    """
    features = partition_features_on(client, data_dir, as_of, [cutoff], config, context=context)
    sizes = client.gather(client.map(len, features, pure=False))
    numbers = [k for k, size in enumerate(sizes) if size]  # a partition may hold no partner signed up by the cutoff
    features = [features[k] for k in numbers]
    shared_models, shared_actions = client.scatter(models, broadcast=True), client.scatter(actions, broadcast=True)
    shared_previous = client.scatter(previous, broadcast=True) if previous is not None else None
    revenues = client.gather(client.map(workhorse_revenues, features, config=config, pure=False))
    typical = typical_workhorse_revenue(np.concatenate([np.zeros(0), *revenues]))
    scored = client.map(
        scored_part,
        features,
        as_of=cutoff,
        config=config,
        models=shared_models,
        actions=shared_actions,
        previous=shared_previous,
        typical=typical,
        pure=False,
    )
    del features  # each partition's features now live on in its scored part only
    plan = RiskListPlan.of(client.gather(client.map(plan_rows, scored, pure=False)), actions)
    parts = [plan.part(k) for k in range(len(scored))]
    finished = client.map(finished_part, scored, parts, config=config, models=shared_models, actions=shared_actions, scored_at=scored_at, pure=False)
    del scored
    summaries, ranks = [], []
    for k, future in enumerate(finished):
        rows = future.result()
        future.release()
        write_part(numbers[k], rows)
        rank = np.sort(parts[k].rank)  # the finished rows are in risk-list order
        summaries.append(summary_rows(rows, rank, text_rows=text_rows))
        ranks.append(rank)
        del rows
    if not summaries:
        return empty_risk_list(config)
    summary = pd.concat(summaries, ignore_index=True)
    return summary.iloc[np.argsort(np.concatenate(ranks), kind="stable")].reset_index(drop=True)
