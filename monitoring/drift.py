"""Drift of features and scores between the champion's training reference and the latest scored population.

Pure: frames in, results out (`monitoring/store.py` reads and writes). What is compared, and why
(measured figures in docs/definitions.md, "Monitoring"):

- **Population.** Partners active at the cutoff (`partner_churn.domain.active_mask`) on both sides: the rows the risk
  model scores, and the ones whose behaviour a program change shows in first. The registrations that
  never did anything, or left long ago, pile up as a program ages; their recency grows by construction.
- **Like with like in age.** The reference holds the deployed model's training cutoffs (its 12 newest,
  ending one horizon before its data's end), of a program that has aged since. Partners are compared with partners of the same tenure: current rows
  whose tenure bin the reference covers are kept, and the reference is resampled (seeded, with
  replacement) to the current tenure mix. The share of current partners older than the reference covers
  is reported (`coverage`); the model never saw such partners.
- **Per-column bar.** Each feature's Evidently method (Wasserstein distance normed by the reference's
  standard deviation for numbers, Jensen-Shannon distance for categories) is judged against
  max(configured threshold, `natural_drift_factor` x the column's drift *within the reference*, first
  half of its cutoffs against the second, compared the same way). A calendar effect or a sparse column
  that moves on its own during training does not count as drift; a change beyond that does.
- **Verdict.** Dataset drift when the share of drifted feature columns reaches
  `monitoring.drift_share_threshold`; score drift when a score's distribution moved beyond its bar
  (`monitoring.score_drift_threshold`, raised the same way). Either one: exit 1, retrain. The facts the
  verdict rests on are `Finding`s (`drift_findings`): drift.json's reason is their English line, the
  summary page (`monitoring.summary`) words the same findings for people.
- **Distributions.** Each compared column's values on both sides, binned alike (`Distribution`), ride on
  the result for the summary page's before/after charts; drift.json does not carry them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from features.schema import FeatureSpec
from monitoring.verdict import Recommendation, recommend
from partner_churn.config import Config, MonitoringConfig
from partner_churn.domain import LAST_ACTIVITY, TARGETS, active_mask
from partner_churn.errors import InputError

if TYPE_CHECKING:
    from evidently.core.report import Snapshot

SCORES = TARGETS
"""Score columns compared besides the features (a score whose model was unavailable has no values)."""
NO_VALUES = "no values on either side"
REFERENCE_ONLY = "values in the reference only"
CURRENT_ONLY = "values in the current rows only"
"""Methods of a column Evidently cannot compare because one side holds no values (`one_sided`)."""
NO_DRIFT = "no feature or score drift beyond its bar"
HISTOGRAM_BINS = 20
"""Bins of a numerical column's before/after distribution (integer columns with fewer values: one bin each)."""
TOP_CATEGORIES = 8
"""Categories of a categorical column's distribution; the rest are summed into one `other` bin."""
TAIL_QUANTILE = 0.01
"""A numerical distribution's bins span the pooled values' TAIL_QUANTILE to 1 - TAIL_QUANTILE quantiles; the
end bins also hold the values beyond (a few huge revenues would otherwise squash every other bin into one)."""
TENURE = "tenure_days"
MIN_HALF_ROWS = 100
"""Fewer reference rows than this in either half of its cutoffs: no within-reference drift is measured."""


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison, as Evidently computed it."""

    column: str
    role: str
    """'feature' or 'score'."""
    kind: str
    """'numerical' or 'categorical' (declared from the feature schema)."""
    method: str
    """Evidently's drift method."""
    drift_score: float
    threshold: float
    """The bar the score was judged against: max(configured, factor x natural_drift)."""
    natural_drift: float
    """The column's drift within the reference (first half of its cutoffs against the second); NaN if not measured."""
    drifted: bool


@dataclass(frozen=True)
class Sampling:
    """Which rows were compared, stated in every output."""

    reference_rows: int
    """Active rows in the reference sample."""
    current_rows: int
    """Active partners in the scored population."""
    compared_current_rows: int
    """Current rows compared (within the reference's tenure range, then sampled down to sample_size)."""
    compared_reference_rows: int
    """Reference rows after resampling to the current tenure mix."""
    coverage: float
    """Share of current active partners whose tenure the reference covers."""
    max_reference_tenure_days: float
    sample_size: int
    sampled: bool
    """True when the current rows were sampled down to sample_size."""
    seed: int
    tenure_bin_days: int
    reference_cutoffs: int = 0
    """Training cutoffs the reference rows come from."""
    reference_first_cutoff: str = ""
    """The earliest of them (YYYY-MM-DD); empty when the reference has no as_of column."""
    reference_last_cutoff: str = ""


@dataclass(frozen=True)
class Distribution:
    """One column's values on both sides of the comparison, binned alike: the summary page's before/after chart.

    Shares are of each side's non-missing values (each side's shares sum to 1 unless it has none); the
    missing shares are of all its compared rows. Numerical: `edges` bound the bins (len(bins) + 1), the
    first and last bin also hold the values beyond them; `integer` when every value is whole and each bin
    holds one value. Categorical: `categories` name the bins, the last one the rest when `other`.
    """

    kind: str
    reference: tuple[float, ...]
    current: tuple[float, ...]
    reference_missing: float
    current_missing: float
    edges: tuple[float, ...] = ()
    integer: bool = False
    categories: tuple[str, ...] = ()
    other: bool = False
    reference_median: float = float("nan")
    current_median: float = float("nan")
    reference_mean: float = float("nan")
    current_mean: float = float("nan")


@dataclass(frozen=True)
class Finding:
    """One fact a drift verdict rests on: whether it calls for retraining, watching or nothing (a note), and
    its English line (drift.json's reason, the scheduler's log). `monitoring.summary` words it for people."""

    kind: Literal["features_drifted", "features_near", "features_few", "score_drifted", "score_near", "low_coverage"]
    level: Literal["retrain", "watch", "note"]
    line: str
    column: str = ""
    """The score a score finding is about; empty for the others."""


@dataclass
class DriftResult:
    """The drift check of one scoring date: per column, the verdict, and the recommendation."""

    as_of: str
    columns: list[ColumnDrift]
    drift_share_threshold: float
    sampling: Sampling
    recommendation: Recommendation
    model: dict[str, Any] = field(default_factory=dict)
    """Which registered versions scored the population and which run's reference was used."""
    distributions: dict[str, Distribution] = field(default_factory=dict)
    """Column -> its values on both sides, as compared (not in drift.json)."""

    @property
    def features(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.role == "feature"]

    @property
    def scores(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.role == "score"]

    @property
    def drifted_features(self) -> int:
        return sum(c.drifted for c in self.features)

    @property
    def share_drifted(self) -> float:
        return self.drifted_features / max(len(self.features), 1)

    @property
    def dataset_drift(self) -> bool:
        return self.share_drifted >= self.drift_share_threshold

    def features_for_share(self, share: float) -> int:
        """The fewest drifted features whose share reaches `share` (the alarm: `drift_share_threshold`), by the
        same comparison as `dataset_drift`; one more than there are features when no count reaches it."""
        total = len(self.features)
        return next((n for n in range(total + 1) if n / max(total, 1) >= share), total + 1)

    def nearest_features(self, k: int = 3) -> list[ColumnDrift]:
        """The k compared features nearest to (or furthest past) their bar: drift score over bar, highest first."""
        measured = [c for c in self.features if np.isfinite(c.drift_score) and c.threshold > 0]
        return sorted(measured, key=lambda c: -c.drift_score / c.threshold)[:k]

    def drifted_columns(self) -> list[ColumnDrift]:
        """The drifted features, furthest past their bar first (one-sided columns, with no score, last)."""
        drifted = [c for c in self.features if c.drifted]
        return sorted(drifted, key=lambda c: -c.drift_score / c.threshold if np.isfinite(c.drift_score) else np.inf)

    @property
    def score_drift(self) -> bool:
        return any(c.drifted for c in self.scores)

    def to_json(self) -> dict[str, Any]:
        """drift.json: per column score, method, threshold and verdict; share drifted; score drift; sampling."""
        return {
            "as_of": self.as_of,
            "model": self.model,
            "recommendation": asdict(self.recommendation),
            "dataset_drift": self.dataset_drift,
            "share_drifted": round(self.share_drifted, 6),
            "drifted_features": self.drifted_features,
            "features": len(self.features),
            "drift_share_threshold": self.drift_share_threshold,
            "score_drift": self.score_drift,
            "scores": {c.column: _column_json(c) for c in self.scores},
            "sampling": asdict(self.sampling),
            "columns": [_column_json(c) for c in self.features],
        }

    def summary_line(self) -> str:
        """The one line a scheduler's log shows."""
        scores = ", ".join(
            f"{c.column} unavailable (no model scored it)"
            if c.method == NO_VALUES
            else f"{c.column} {c.drift_score:.3f}{' DRIFTED' if c.drifted else ''} (bar {c.threshold:.3f})"
            for c in self.scores
        )
        s = self.sampling
        sampled = f", sampled from {s.current_rows:,}" if s.sampled else ""
        return (
            f"drift as of {self.as_of}: {self.drifted_features} of {len(self.features)} features drifted "
            f"(share {self.share_drifted:.3f}, alarm at {self.drift_share_threshold:.3f}); score drift: {scores}; "
            f"{s.compared_current_rows:,} current{sampled} vs {s.compared_reference_rows:,} reference active partners, "
            f"tenure coverage {s.coverage:.0%}"
        )


def _column_json(column: ColumnDrift) -> dict[str, Any]:
    values = asdict(column)
    for key in ("drift_score", "threshold", "natural_drift"):
        values[key] = None if not np.isfinite(values[key]) else round(float(values[key]), 6)
    return values


# --------------------------------------------------------------------------------------------------
# Rows to compare


def active_rows(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Partners active at their cutoff (the risk model's population)."""
    if LAST_ACTIVITY not in frame:
        raise InputError(f"cannot tell active partners: no column {LAST_ACTIVITY!r}")
    return frame[active_mask(frame, config)]


def current_population(features: pd.DataFrame, risk_list: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The scored population's features (recomputed at the scoring date) with the scores the risk list holds.

    An error when the risk list and the data do not belong together: the scorer gives a risk exactly to
    the partners active at the cutoff, so both must name the same partners as active. Up to 1% may
    disagree: events that arrived after the scoring but happened before it (late data) move a few.
    """
    missing = [c for c in ("partner_id", *SCORES) if c not in risk_list]
    if missing:
        raise InputError(f"the risk list has no column {', '.join(missing)}")
    scores = risk_list.drop_duplicates("partner_id").set_index("partner_id")[list(SCORES)]
    merged = features.drop(columns=[c for c in SCORES if c in features]).join(scores, on="partner_id")
    unknown = int(merged[list(SCORES)].isna().all(axis=1).sum())
    if unknown == len(merged) and len(merged):
        raise InputError("none of the partners in the data are in the risk list: was it scored on other data?")
    active = active_mask(merged, config)
    scored_risk = merged["deactivation_risk"].notna().to_numpy()
    disagree = int((active != scored_risk).sum()) if scored_risk.any() else 0  # no risk at all: the risk model was unavailable
    if disagree > 0.01 * max(len(merged), 1):
        raise InputError(
            f"the risk list gives a deactivation risk to other partners than those active in the data at its date "
            f"({disagree:,} of {len(merged):,} disagree): was it scored on other data?"
        )
    return active_rows(merged, config)


def tenure_matched(
    reference: pd.DataFrame, current: pd.DataFrame, *, bin_days: int, min_rows: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(reference resampled to the current tenure mix, current rows the reference covers, coverage).

    Tenure is cut in bins of `bin_days`; a bin counts as covered when the reference holds at least
    `min_rows` rows in it. The reference keeps its size; each covered bin gets its share of the current
    rows, drawn with replacement from the reference's rows in that bin.
    """
    if not len(reference) or not len(current):
        raise InputError(f"nothing to compare: {len(reference):,} reference and {len(current):,} current active partners")
    ref_bin = (reference[TENURE].to_numpy(float) // bin_days).astype(np.int64)
    cur_bin = (current[TENURE].to_numpy(float) // bin_days).astype(np.int64)
    bins, counts = np.unique(ref_bin, return_counts=True)
    covered = bins[counts >= min_rows]
    keep = np.isin(cur_bin, covered)
    if not keep.any():
        raise InputError(
            f"no current active partner has a tenure the reference covers (at least {min_rows} reference rows per "
            f"{bin_days}-day bin): the reference is too small or too different"
        )
    kept_bins, kept_counts = np.unique(cur_bin[keep], return_counts=True)
    wanted = np.round(kept_counts / kept_counts.sum() * len(reference)).astype(int)
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(ref_bin == b), size=k, replace=True) for b, k in zip(kept_bins, wanted) if k]
    resampled = reference.iloc[np.concatenate(picks)].reset_index(drop=True)
    return resampled, current[keep].reset_index(drop=True), float(keep.mean())


def sample_rows(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """At most `size` rows, drawn without replacement with a fixed seed."""
    return frame.sample(n=size, random_state=seed).reset_index(drop=True) if len(frame) > size else frame


# --------------------------------------------------------------------------------------------------
# The comparison


def column_kinds(schema: Sequence[FeatureSpec]) -> dict[str, str]:
    """Evidently column type of every feature and score, declared from the feature schema."""
    kinds = {spec.name: "categorical" if spec.kind == "category" else "numerical" for spec in schema}
    kinds.update({score: "numerical" for score in SCORES})
    return kinds


def natural_drift(reference: pd.DataFrame, kinds: dict[str, str], config: MonitoringConfig) -> dict[str, float]:
    """Each column's drift within the reference: its earlier cutoffs (tenure-matched) against its later ones.

    NaN for every column when the reference spans one cutoff or either half is smaller than MIN_HALF_ROWS.
    """
    nothing = {column: float("nan") for column in kinds}
    if "as_of" not in reference or reference["as_of"].nunique() < 2:
        return nothing
    cutoffs = np.sort(reference["as_of"].unique())
    middle = cutoffs[len(cutoffs) // 2]
    early, late = reference[reference["as_of"] < middle], reference[reference["as_of"] >= middle]
    if min(len(early), len(late)) < MIN_HALF_ROWS:
        return nothing
    try:
        early, late, _ = tenure_matched(early, late, bin_days=config.tenure_bin_days, min_rows=config.min_rows_per_tenure_bin, seed=config.seed)
    except InputError:
        return nothing
    return {column: column_drift_score(early[column], late[column], kind, config) for column, kind in kinds.items()}


def column_drift_score(reference: pd.Series, current: pd.Series, kind: str, config: MonitoringConfig) -> float:
    """Evidently's drift score of one column (the same stat test its report runs); NaN when a side is empty."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    ref, cur = _clean(reference, kind), _clean(current, kind)
    if not len(ref) or not len(cur):
        return float("nan")
    column_type = ColumnType.Categorical if kind == "categorical" else ColumnType.Numerical
    test = get_stattest(ref, cur, column_type, method_of(kind, config))
    return float(test(ref, cur, column_type, 1.0).drift_score)


def method_of(kind: str, config: MonitoringConfig) -> str:
    return config.categorical_method if kind == "categorical" else config.numerical_method


def thresholds(kinds: dict[str, str], natural: dict[str, float], config: MonitoringConfig) -> dict[str, float]:
    """Per-column bar: max(configured threshold, factor x the column's natural drift)."""
    bars = {}
    for column, kind in kinds.items():
        if column in SCORES:
            base = config.score_drift_threshold
        else:
            base = config.categorical_threshold if kind == "categorical" else config.numerical_threshold
        own = natural.get(column, float("nan"))
        bars[column] = max(base, config.natural_drift_factor * own) if np.isfinite(own) else base
    return bars


def run_report(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str], bars: dict[str, float], config: MonitoringConfig) -> Snapshot:
    """Evidently's report: the drifted-feature count, then one ValueDrift per column (scores first) with its
    method and bar. Every column given must hold values on both sides (Evidently refuses an empty one)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    columns = list(kinds)
    features = [c for c in columns if c not in SCORES]
    definition = DataDefinition(
        numerical_columns=[c for c in columns if kinds[c] == "numerical"],
        categorical_columns=[c for c in columns if kinds[c] == "categorical"],
    )
    methods = {c: method_of(kinds[c], config) for c in columns}
    count = DriftedColumnsCount(
        columns=features,
        drift_share=config.drift_share_threshold,
        per_column_method={c: methods[c] for c in features},
        per_column_threshold={c: bars[c] for c in features},
    )
    metrics = [*([count] if features else []), *[ValueDrift(column=c, method=methods[c], threshold=bars[c]) for c in columns if c in SCORES]]
    metrics += [ValueDrift(column=c, method=methods[c], threshold=bars[c]) for c in features]
    frames = [_typed(frame[columns], kinds) for frame in (current, reference)]
    datasets = [Dataset.from_pandas(frame, data_definition=definition) for frame in frames]
    return Report(metrics).run(datasets[0], datasets[1])


def drift_columns(snapshot: Snapshot, kinds: dict[str, str], natural: dict[str, float]) -> list[ColumnDrift]:
    """Per-column results read back from the Evidently snapshot (scores first, then features in schema order)."""
    found: dict[str, ColumnDrift] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            column, score, bar = config["column"], float(metric["value"]), float(config["threshold"])
            found[column] = ColumnDrift(
                column=column,
                role="score" if column in SCORES else "feature",
                kind=kinds[column],
                method=config["method"],
                drift_score=score,
                threshold=bar,
                natural_drift=natural.get(column, float("nan")),
                drifted=bool(np.isfinite(score) and score >= bar),
            )
    return [found[c] for c in [*SCORES, *[k for k in kinds if k not in SCORES]] if c in found]


def compare(
    reference: pd.DataFrame,
    scored: pd.DataFrame,
    schema: Sequence[FeatureSpec],
    settings: Config,
    *,
    as_of: pd.Timestamp,
) -> tuple[DriftResult, Snapshot]:
    """The whole drift check on frames: the reference sample and the current population (active partners
    with features and scores); returns the result and Evidently's snapshot (for drift.html)."""
    config = settings.monitoring
    kinds = column_kinds(schema)
    missing = sorted(set(kinds) - set(reference.columns))
    if missing:
        raise InputError(f"the reference sample has no column {', '.join(missing[:5])}: it was logged with another feature schema")
    reference = active_rows(reference, settings)
    ref, cur, coverage = tenure_matched(reference, scored, bin_days=config.tenure_bin_days, min_rows=config.min_rows_per_tenure_bin, seed=config.seed)
    sampled = sample_rows(cur, config.sample_size, config.seed)
    if len(ref) > config.sample_size:
        ref = sample_rows(ref, config.sample_size, config.seed)
    natural = natural_drift(reference, kinds, config)
    bars = thresholds(kinds, natural, config)
    has_values = {c: (len(_clean(ref[c], k)) > 0, len(_clean(sampled[c], k)) > 0) for c, k in kinds.items()}
    comparable = {c: k for c, k in kinds.items() if all(has_values[c])}
    snapshot = run_report(ref, sampled, comparable, bars, config)
    found = {c.column: c for c in drift_columns(snapshot, comparable, natural)}
    for column in kinds.keys() - found.keys():
        found[column] = one_sided(column, kinds[column], has_values[column], bars[column], natural)
    columns = [found[c] for c in [*SCORES, *[k for k in kinds if k not in SCORES]]]
    cutoffs = pd.to_datetime(reference["as_of"], utc=True).dropna() if "as_of" in reference else pd.Series(dtype="datetime64[ns, UTC]")
    sampling = Sampling(
        reference_rows=len(reference),
        current_rows=len(scored),
        compared_current_rows=len(sampled),
        compared_reference_rows=len(ref),
        coverage=round(coverage, 6),
        max_reference_tenure_days=round(float(reference[TENURE].max()), 3),
        sample_size=config.sample_size,
        sampled=len(sampled) < len(cur),
        seed=config.seed,
        tenure_bin_days=config.tenure_bin_days,
        reference_cutoffs=int(cutoffs.nunique()),
        reference_first_cutoff=f"{cutoffs.min():%Y-%m-%d}" if len(cutoffs) else "",
        reference_last_cutoff=f"{cutoffs.max():%Y-%m-%d}" if len(cutoffs) else "",
    )
    result = DriftResult(
        as_of=f"{as_of:%Y-%m-%d}",
        columns=columns,
        drift_share_threshold=config.drift_share_threshold,
        sampling=sampling,
        recommendation=Recommendation("keep", ""),
        distributions={c: distribution(ref[c], sampled[c], k) for c, k in kinds.items()},
    )
    result.recommendation = drift_recommendation(result, config)
    return result, snapshot


def one_sided(column: str, kind: str, has_values: tuple[bool, bool], bar: float, natural: dict[str, float]) -> ColumnDrift:
    """A column Evidently cannot compare because a side holds no values. With values on one side only, it
    counts as drifted (a feature that appeared or vanished is a stark change); with none on either, not."""
    reference, current = has_values
    method = REFERENCE_ONLY if reference else CURRENT_ONLY if current else NO_VALUES
    return ColumnDrift(
        column=column,
        role="score" if column in SCORES else "feature",
        kind=kind,
        method=method,
        drift_score=float("nan"),
        threshold=bar,
        natural_drift=natural.get(column, float("nan")),
        drifted=reference != current,
    )


def drift_findings(result: DriftResult, config: MonitoringConfig) -> list[Finding]:
    """What the verdict rests on: retrain on dataset or score drift; watch when near a bar or the reference
    covers few current partners; a note when some features drifted, fewer than the watch level."""
    top = result.drifted_columns()[:3]
    named = ", ".join(f"{c.column} {c.drift_score:.2f} (bar {c.threshold:.2f})" for c in top)
    findings = []
    if result.dataset_drift:
        findings.append(
            Finding(
                "features_drifted",
                "retrain",
                f"{result.drifted_features} of {len(result.features)} features drifted "
                f"(share {result.share_drifted:.3f} >= {result.drift_share_threshold:.3f}): {named}",
            )
        )
    for score in result.scores:
        if score.drifted:
            findings.append(
                Finding("score_drifted", "retrain", f"{score.column} scores drifted ({score.drift_score:.3f} >= {score.threshold:.3f})", score.column)
            )
        elif score.drift_score >= config.watch_fraction * score.threshold:
            findings.append(
                Finding(
                    "score_near",
                    "watch",
                    f"{score.column} scores moved {score.drift_score:.3f}, over {config.watch_fraction:.0%} of the bar {score.threshold:.3f}",
                    score.column,
                )
            )
    if not result.dataset_drift and result.share_drifted >= config.watch_fraction * result.drift_share_threshold:
        findings.append(
            Finding(
                "features_near",
                "watch",
                f"{result.drifted_features} features drifted (share {result.share_drifted:.3f}, "
                f"alarm at {result.drift_share_threshold:.3f}): {named}",
            )
        )
    elif not result.dataset_drift and result.drifted_features:
        findings.append(
            Finding(
                "features_few",
                "note",
                f"{result.drifted_features} of {len(result.features)} features drifted, below the "
                f"watch level (share {result.share_drifted:.3f} < {config.watch_fraction * result.drift_share_threshold:.3f}): {named}",
            )
        )
    if result.sampling.coverage < config.min_tenure_coverage:
        findings.append(
            Finding(
                "low_coverage",
                "watch",
                f"only {result.sampling.coverage:.0%} of active partners are as young as the training rows "
                f"(the oldest was {result.sampling.max_reference_tenure_days:.0f} days): the model extrapolates for the rest",
            )
        )
    return findings


def drift_recommendation(result: DriftResult, config: MonitoringConfig) -> Recommendation:
    """The verdict of `drift_findings`: retrain on any retrain finding, watch on any watch finding, else keep."""
    findings = drift_findings(result, config)
    notes = [f.line for f in findings if f.level == "note"]
    return recommend(
        [f.line for f in findings if f.level == "retrain"],
        [f.line for f in findings if f.level == "watch"],
        f"{'; '.join(notes)}; no score drift beyond its bar" if notes else NO_DRIFT,
    )


def distribution(reference: pd.Series, current: pd.Series, kind: str) -> Distribution:
    """Both sides of one column binned alike (see `Distribution`): numbers in HISTOGRAM_BINS equal bins between
    the pooled values' tail quantiles (one bin per value for whole numbers with fewer distinct values),
    categories as the TOP_CATEGORIES most common over both sides and the rest."""
    ref, cur = _clean(reference, kind), _clean(current, kind)
    reference_missing, current_missing = (1.0 - len(clean) / len(raw) if len(raw) else 0.0 for clean, raw in ((ref, reference), (cur, current)))
    if kind == "categorical":
        pooled = pd.concat([ref, cur]).value_counts()
        shown = [str(c) for c in pooled.index[:TOP_CATEGORIES]]
        other = len(pooled) > TOP_CATEGORIES

        def category_shares(values: pd.Series) -> tuple[float, ...]:
            counts = values.value_counts()
            kept = [float(counts.get(c, 0)) for c in shown] + ([float(counts.drop(shown, errors="ignore").sum())] if other else [])
            return tuple(n / len(values) if len(values) else 0.0 for n in kept)

        return Distribution(
            kind, category_shares(ref), category_shares(cur), reference_missing, current_missing, categories=tuple(shown), other=other
        )
    pooled = np.concatenate([ref.to_numpy(), cur.to_numpy()])
    if not len(pooled):
        return Distribution(kind, (), (), reference_missing, current_missing)
    low, high = np.quantile(pooled, [TAIL_QUANTILE, 1 - TAIL_QUANTILE])
    whole = bool(np.all(pooled == np.round(pooled)))
    if whole and pooled.max() - pooled.min() < HISTOGRAM_BINS:
        low, high, integer = float(pooled.min()), float(pooled.max()), True
        edges = np.arange(low - 0.5, high + 1.0, 1.0)
    else:
        if high <= low:
            low, high = float(pooled.min()), float(pooled.max())
        if high <= low:
            low, high = low - 0.5, high + 0.5
        integer = False
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)

    def shares(values: np.ndarray) -> tuple[float, ...]:
        inside = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
        counts = np.bincount(inside, minlength=len(edges) - 1)
        return tuple(float(n) / len(values) if len(values) else 0.0 for n in counts)

    sides = (ref.to_numpy(), cur.to_numpy())
    medians = [float(np.median(side)) if len(side) else float("nan") for side in sides]
    means = [float(np.mean(side)) if len(side) else float("nan") for side in sides]
    return Distribution(
        kind,
        shares(sides[0]),
        shares(sides[1]),
        reference_missing,
        current_missing,
        edges=tuple(float(e) for e in edges),
        integer=integer,
        reference_median=medians[0],
        current_median=medians[1],
        reference_mean=means[0],
        current_mean=means[1],
    )


def _clean(values: pd.Series, kind: str) -> pd.Series:
    values = values.replace([np.inf, -np.inf], np.nan).dropna() if kind == "numerical" else values.dropna()
    return values.astype(float) if kind == "numerical" else values.astype(str)


def _typed(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Numbers as float, categories as text (missing stays missing), so Evidently sees the declared types."""
    out = {}
    for column, kind in kinds.items():
        values = frame[column]
        out[column] = values.astype(float) if kind == "numerical" else values.astype(object).where(values.notna(), None)
    return pd.DataFrame(out, index=frame.index)
