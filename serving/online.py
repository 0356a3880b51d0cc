"""Online scoring: validated request records and one bundle of models in, one answer per partner out.

The same functions as the batch scorer decide everything: the feature pipeline (for raw events),
`assign_segments`, the models, bands and flags, the action table, value at risk and reasons. What
differs is the shape: a request holds a few partners, so columns are plain arrays, built straight
from the records, and no pandas frame is made unless raw events need the feature pipeline.

A `ServedModels` bundle is immutable; a request takes one bundle and every score it returns names
that bundle's versions, so an answer never mixes models, even while a new champion is loaded.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.pipeline import ProgramContext, build_features
from features.schema import feature_names, feature_schema
from features.segments import assign_segments
from partner_churn.config import Config
from partner_churn.domain import ACTIVE_DAYS_30, LAST_ACTIVITY, segment_revenue_feature
from retention.actions import ActionTable
from scoring.scores import ScoringModels, expected_horizon_revenue
from serving.core import compare_with_previous, score_columns
from serving.core import explain as explain_rows
from serving.history import HistoryReader


@dataclass(frozen=True)
class ServedModels:
    """The models a service answers with, and what they need besides the features."""

    models: ScoringModels
    actions: ActionTable
    config: Config
    """The service's config (labels, segments, scoring thresholds, serving limits)."""
    about: dict[str, Any] = field(default_factory=dict)
    """Per target, what the registry says of the version (see `training.registry.describe_version`)."""
    loaded_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    @property
    def program(self) -> dict[str, Any]:
        """Program figures (revenue per window, Star threshold) at the risk model's training data end."""
        return self.models.any_model.program

    def info(self) -> dict[str, str]:
        """Which models answer, e.g. {'deactivation_risk': 'partner-churn-deactivation-risk:v3', ...}."""
        return {
            **self.models.names(self.config),
            "program_as_of": str(self.program.get("as_of", "")),
            "trained_through": self.models.trained_through(),
            "pair": self.models.pair or "",
            "measured_actions": self.models.measured_label(self.config),
        }


def score_records(
    records: Sequence[Any],
    served: ServedModels,
    *,
    lang: str,
    explain_by_default: bool,
    now: dt.datetime | None = None,
    history: HistoryReader | None = None,
) -> list[dict[str, Any]]:
    """One answer per record, in order (see `serving.api.PartnerScore` for the fields). With `history`, each
    record is compared with the latest batch scoring before its scoring time (the request's time for a
    features record), as the batch compares with its previous scoring."""
    if not records:
        return []
    now = now or dt.datetime.now(dt.UTC)
    wanted = np.array([explain_by_default if r.explain is None else r.explain for r in records], dtype=bool)
    answers = answer_columns(_feature_columns(records, served, now), served, explain=wanted, lang=lang, now=now, history=history)
    fields = list(answers)
    return [dict(zip(fields, row)) for row in zip(*answers.values())]


def answer_columns(
    columns: dict[str, np.ndarray],
    served: ServedModels,
    *,
    explain: np.ndarray,
    lang: str,
    now: dt.datetime,
    history: HistoryReader | None,
) -> dict[str, list[Any]]:
    """The answers to partners given as feature columns (features, `segment`, `downgrade_warning`,
    `partner_id`, `as_of`: None for rows scored at the request's time), as columns of plain values named
    and ordered as the fields of `serving.api.PartnerScore` (None where a field is null); reasons for the
    rows `explain` marks."""
    config, models = served.config, served.models
    n = len(columns["partner_id"])
    columns = columns | score_columns(
        columns, models, served.actions, config, lang=lang, typical_workhorse_revenue=_typical_workhorse_revenue(served)
    )
    changes, previous_at = _changes(columns, history, pd.Timestamp(now), config)
    reasons: list[list[str] | None] = [None] * n
    source = np.full(n, "none", dtype=object)
    if explain.any():
        texts, explained_by = explain_rows(_rows(columns, explain), models, config, by_model=np.ones(int(explain.sum()), bool), lang=lang)
        for i, sentences, by in zip(np.flatnonzero(explain), texts, explained_by):
            reasons[i], source[i] = sentences, by
    return {
        "partner_id": list(columns["partner_id"]),
        "deactivation_risk": _numbers(columns["deactivation_risk"]),
        "risk_band": list(columns["risk_band"]),
        "upgrade_potential": _numbers(columns["upgrade_potential"]),
        "potential_band": list(columns["potential_band"]),
        "segment": list(columns["segment"]),
        "downgrade_warning": np.asarray(columns["downgrade_warning"], dtype=bool).tolist(),
        "value_at_risk": np.asarray(columns["value_at_risk"], dtype=float).tolist(),
        "action": list(columns["action"]),
        "action_title": list(columns["action_title"]),
        "due_in_days": np.asarray(columns["due_in_days"], dtype=np.int64).tolist(),
        "action_basis": list(columns["action_basis"]),
        "expected_saved_revenue": _numbers(columns["expected_saved_revenue"]),
        "reasons": reasons,
        "reasons_source": list(source),
        "as_of": list(columns["as_of"]),
        "previous_scoring": previous_at,
        "previous_segment": list(changes["previous_segment"]),
        "previous_risk": _numbers(changes["previous_risk"]),
        "risk_change": _numbers(changes["risk_change"]),
        "risk_trend": [trend or None for trend in changes["risk_trend"]],
        "weeks_in_high_band": [None if np.isnan(w) else int(w) for w in changes["weeks_in_high_band"]],
        "high_band_since": [None if pd.isna(t) else t.isoformat() for t in changes["high_band_since"]],
    }


def _numbers(values: Any) -> list[float | None]:
    """Floats as plain values, None for NaN."""
    array = np.asarray(values, dtype=float)
    return [None if missing else value for missing, value in zip(np.isnan(array).tolist(), array.tolist())]


def _changes(
    columns: dict[str, np.ndarray], history: HistoryReader | None, now: pd.Timestamp, config: Config
) -> tuple[dict[str, Any], list[str | None]]:
    """`compare_with_previous` of every row against the previous scoring of its scoring time, and that
    scoring's time per row (None: no earlier scoring)."""
    moments = np.array([pd.Timestamp(t) if t is not None else now for t in columns["as_of"]], dtype=object)
    parts: list[tuple[list[int], dict[str, np.ndarray]]] = []
    previous_at: list[str | None] = [None] * len(moments)
    for moment in sorted(set(moments)):
        rows = np.flatnonzero(moments == moment)
        previous = history.previous(moment) if history is not None else None
        part = compare_with_previous(_rows(columns, moments == moment), previous, moment, config)
        parts.append((list(rows), {name: np.asarray(values, dtype=object) for name, values in part.items()}))
        for i in rows:
            previous_at[i] = previous.as_of.isoformat() if previous is not None else None
    changes = _in_request_order(parts)
    changes["previous_risk"] = changes["previous_risk"].astype(float)
    changes["risk_change"] = changes["risk_change"].astype(float)
    changes["weeks_in_high_band"] = changes["weeks_in_high_band"].astype(float)
    return changes, previous_at


def _rows(columns: dict[str, np.ndarray], selected: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[selected] for name, values in columns.items()}


def _typical_workhorse_revenue(served: ServedModels) -> float:
    """The typical Workhorse's expected horizon revenue, from the training rows' medians (the service
    does not hold the population the batch takes its median from)."""
    config, models = served.config, served.models
    typical = (models.potential or models.any_model).typical
    median = typical.get("workhorse", {}).get(segment_revenue_feature(config), 0.0)
    return float(expected_horizon_revenue(median, config))


def _feature_columns(records: Sequence[Any], served: ServedModels, now: dt.datetime) -> dict[str, np.ndarray]:
    """Features, segment and downgrade warning of every record as columns, in the records' order."""
    names = feature_names(served.config)
    by_features = [i for i, r in enumerate(records) if r.features is not None]
    by_events = [i for i, r in enumerate(records) if r.features is None]
    parts: list[tuple[list[int], dict[str, np.ndarray]]] = []
    if by_features:
        parts.append((by_features, _from_features([records[i] for i in by_features], names, served)))
    if by_events:
        parts.append((by_events, _from_events([records[i] for i in by_events], names, served, now)))
    return _in_request_order(parts)


def _in_request_order(parts: list[tuple[list[int], dict[str, np.ndarray]]]) -> dict[str, np.ndarray]:
    """Columns of several parts, each with the request positions of its rows, as one set in request order."""
    if len(parts) == 1:
        return parts[0][1]
    order = np.argsort(np.concatenate([np.asarray(positions) for positions, _ in parts]), kind="stable")
    return {name: np.concatenate([part[name] for _, part in parts])[order] for name in parts[0][1]}


def _from_features(records: Sequence[Any], names: list[str], served: ServedModels) -> dict[str, np.ndarray]:
    """Columns from feature records."""
    categories = {spec.name for spec in feature_schema(served.config) if spec.kind == "category"}
    numbers, texts = [name for name in names if name not in categories], [name for name in names if name in categories]
    values = [r.features.__dict__ for r in records]
    take = operator.itemgetter(*numbers)
    table = np.array([take(v) for v in values], dtype=float).reshape(len(records), len(numbers))  # None: NaN
    features = {name: table[:, j] for j, name in enumerate(numbers)}
    for name in texts:
        features[name] = np.array([v[name] for v in values], dtype=object)
    partner_id = np.array([r.partner_id for r in records], dtype=object)
    return given_features(features, partner_id, np.array([r.downgrade_warning for r in records], dtype=bool), served)


def given_features(
    features: dict[str, np.ndarray], partner_id: np.ndarray, downgrade_warning: np.ndarray, served: ServedModels
) -> dict[str, np.ndarray]:
    """The columns `answer_columns` takes, for partners given by their features (floats; categories as
    objects) as of the request's time: the segment from the features and the program snapshot."""
    config = served.config
    rules, window = config.segments, config.segments.revenue_window_days
    columns = dict(features)
    columns["segment"] = assign_segments(
        features["tenure_days"],
        features[ACTIVE_DAYS_30],
        np.nan_to_num(features[LAST_ACTIVITY], nan=np.inf),
        features[segment_revenue_feature(config)],
        rules,
        program_window_revenue=float(served.program["window_revenue"][str(window)]),
        star_threshold=float(served.program["star_threshold"]),
    ).astype(object)
    columns["downgrade_warning"] = downgrade_warning
    columns["partner_id"] = partner_id
    columns["as_of"] = np.full(len(partner_id), None, dtype=object)
    return columns


def _from_events(records: Sequence[Any], names: list[str], served: ServedModels, now: dt.datetime) -> dict[str, np.ndarray]:
    """Columns from raw-events records through the batch's feature pipeline, one call per scoring time
    (each record's partner signed up before its scoring time, so the pipeline returns every one, in order)."""
    config = served.config
    as_of = [pd.Timestamp(r.as_of or now) for r in records]
    wanted = [*names, "segment", "downgrade_warning", "partner_id"]
    parts = []
    for moment in sorted(set(as_of)):
        group = [i for i, t in enumerate(as_of) if t == moment]
        partners, events, surveys = _program_of([records[i] for i in group], config)
        context = ProgramContext.from_snapshot(served.program, [moment])
        features = build_features(partners, events, [moment], config, program=context, surveys=surveys)
        features["partner_id"] = [records[i].partner_id for i in group]
        parts.append((group, {name: features[name].to_numpy() for name in wanted}))
    columns = _in_request_order(parts)
    columns["segment"] = columns["segment"].astype(object)
    columns["as_of"] = np.array([t.isoformat() for t in as_of], dtype=object)
    return columns


def _program_of(records: Sequence[Any], config: Config) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The partners, events and surveys tables of the data contract, for the records' partners only.

    Partners are keyed by their position, not their id: requests merged into one batch may hold the
    same partner twice, and each record is scored on its own events."""
    attributes = list(config.data.partner_attributes)
    partners = pd.DataFrame(
        {
            "partner_id": pd.Series([str(i) for i in range(len(records))], dtype=object),
            "signup_at": pd.to_datetime([r.partner.signup_at for r in records], utc=True).as_unit("ns"),
            **{name: [getattr(r.partner, name) for r in records] for name in attributes},
        }
    )
    for name, column_type in config.data.partner_attributes.items():
        if column_type in ("float", "integer"):
            partners[name] = partners[name].astype(float)
    ids = pd.Index(partners["partner_id"])
    rows = [(str(i), e.ts, e.event_type, e.amount) for i, r in enumerate(records) for e in r.events]
    events = pd.DataFrame(rows, columns=["partner_id", "ts", "event_type", "amount"])
    events["partner_id"] = pd.Categorical(events["partner_id"], categories=ids)
    events["ts"] = pd.to_datetime(events["ts"], utc=True).astype("datetime64[ns, UTC]")
    events["event_type"] = pd.Categorical(events["event_type"], categories=config.data.event_types)
    events["amount"] = events["amount"].astype(float).fillna(0.0)
    answers = [(str(i), a.ts, a.score) for i, r in enumerate(records) for a in (r.surveys or [])]
    surveys = pd.DataFrame(answers, columns=["partner_id", "ts", "score"]).astype({"score": float})
    surveys["ts"] = pd.to_datetime(surveys["ts"], utc=True).astype("datetime64[ns, UTC]")
    return partners, events.sort_values(["partner_id", "ts"], kind="stable").reset_index(drop=True), surveys
