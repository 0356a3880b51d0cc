"""Realized performance: a saved risk list joined with what happened over the horizon, next to the backtest.

Pure: frames in, results out. Labels come from `features.pipeline.build_labels` (the code training
learns from), metrics from `training.backtest` (the code the backtest reports with), so realized and
expected figures mean the same thing: ROC-AUC, PR-AUC, calibration (Brier, ECE), precision and recall in
the top 10%, per target, over all partners and per segment at the scoring date.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitoring.verdict import Recommendation, recommend
from partner_churn.config import MonitoringConfig
from partner_churn.domain import LABEL_OF, TARGETS
from partner_churn.errors import InputError
from training.backtest import METRICS, backtest_table

SHOWN = ("roc_auc", "pr_auc", "brier", "ece", "precision_top10", "recall_top10")
"""Metrics in the printed table and in performance.csv, realized next to expected."""


@dataclass
class PerformanceResult:
    """Realized against expected metrics of one scoring, and the recommendation."""

    scored_at: str
    horizon_days: int
    table: pd.DataFrame
    """target, segment, rows, positives, then per metric `<metric>` (realized) and `expected_<metric>`."""
    recommendation: Recommendation
    tolerance: float
    model: dict[str, Any]

    @property
    def targets(self) -> list[str]:
        """The targets the scoring gave scores for (a model that was unavailable scored nothing)."""
        return [t for t in TARGETS if (self.table["target"] == t).any()]

    def overall(self, target: str) -> pd.Series:
        rows = self.table[(self.table["target"] == target) & (self.table["segment"] == "all")]
        if rows.empty:
            raise InputError(f"no labelled rows for {target}")
        return rows.iloc[0]

    def to_json(self) -> dict[str, Any]:
        records = self.table.replace({np.nan: None}).to_dict(orient="records")
        return {
            "scored_at": self.scored_at,
            "horizon_days": self.horizon_days,
            "model": self.model,
            "recommendation": asdict(self.recommendation),
            "performance_tolerance": self.tolerance,
            "metrics": records,
        }

    def summary_line(self) -> str:
        parts = []
        for target in self.targets:
            row = self.overall(target)
            parts.append(
                f"{target} ROC-AUC {row['roc_auc']:.3f} (backtest {row['expected_roc_auc']:.3f}), "
                f"ECE {row['ece']:.3f} (backtest {row['expected_ece']:.3f}), "
                f"precision top 10% {row['precision_top10']:.3f} (backtest {row['expected_precision_top10']:.3f}) "
                f"on {int(row['rows']):,} partners"
            )
        return f"performance of the scoring of {self.scored_at} over {self.horizon_days} days: " + "; ".join(parts)


def realized_predictions(risk_list: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """One row per target and partner with a known outcome: the score it got and what happened.

    Shaped like the backtest's predictions (target, as_of, partner_id, segment, label,
    revenue_next_horizon, model) so `training.backtest.backtest_table` measures it the same way.
    """
    missing = [c for c in ("partner_id", "segment", *TARGETS) if c not in risk_list]
    if missing:
        raise InputError(f"the risk list has no column {', '.join(missing)}")
    joined = labels.merge(risk_list[["partner_id", "segment", *TARGETS]].rename(columns={"segment": "scored_segment"}), on="partner_id", how="inner")
    # In partner order, whatever order the data's files hold them in: the top 10%'s ties and every sum come out the same.
    joined = joined.sort_values("partner_id", kind="stable", ignore_index=True)
    if joined.empty:
        raise InputError("none of the partners in the risk list are in the data: was it scored on other data?")
    frames = []
    for target in [t for t in TARGETS if joined[t].notna().any()]:
        label = LABEL_OF[target]
        rows = joined[joined[label].notna() & joined[target].notna()]
        frames.append(
            pd.DataFrame(
                {
                    "target": target,
                    "as_of": rows["as_of"].to_numpy(),
                    "partner_id": rows["partner_id"].to_numpy(),
                    "segment": rows["scored_segment"].to_numpy(),
                    "label": rows[label].to_numpy(int),
                    "revenue_next_horizon": rows["revenue_next_horizon"].to_numpy(float),
                    "model": rows[target].to_numpy(float),
                }
            )
        )
    if not frames:
        raise InputError("the risk list holds no scores with a known outcome")
    return pd.concat(frames, ignore_index=True)


def compare_with_backtest(predictions: pd.DataFrame, backtest: pd.DataFrame) -> pd.DataFrame:
    """Realized metrics per target and segment ('all' first), each next to the backtest's for the model."""
    realized = backtest_table(predictions, ["model"])
    realized = realized[realized["fold"] == "all"].drop(columns=["fold", "origin", "scorer", "population"])
    # The backtest's pooled folds on all rows; a table logged before folds existed says "cutoff".
    pooled = backtest["fold" if "fold" in backtest else "cutoff"].astype(str) == "all"
    if "population" in backtest:
        pooled &= backtest["population"] == "all"
    expected = backtest[(backtest["scorer"] == "model") & pooled]
    expected = expected[["target", "segment", *METRICS]].rename(columns={m: f"expected_{m}" for m in METRICS})
    table = realized.merge(expected, on=["target", "segment"], how="left")
    table["segment_order"] = (table["segment"] != "all").astype(int)
    table = table.sort_values(["target", "segment_order", "segment"], kind="stable").drop(columns="segment_order")
    columns = ["target", "segment", "rows", "positives"] + [c for m in SHOWN for c in (m, f"expected_{m}")]
    return table[columns].reset_index(drop=True)


def evaluate(
    risk_list: pd.DataFrame,
    labels: pd.DataFrame,
    backtest: pd.DataFrame,
    config: MonitoringConfig,
    *,
    scored_at: pd.Timestamp,
    horizon_days: int,
    model: dict[str, Any] | None = None,
) -> PerformanceResult:
    """The realized-performance check of one scoring; labels are `build_labels` at the scoring date."""
    table = compare_with_backtest(realized_predictions(risk_list, labels), backtest)
    result = PerformanceResult(
        scored_at=f"{scored_at:%Y-%m-%d}",
        horizon_days=horizon_days,
        table=table,
        recommendation=Recommendation("keep", ""),
        tolerance=config.performance_tolerance,
        model=model or {},
    )
    for target in result.targets:
        row = result.overall(target)
        if not np.isfinite(row["roc_auc"]):
            raise InputError(
                f"{target}: the {int(row['rows']):,} partners with a known outcome all had the same outcome; "
                "ROC-AUC cannot be measured on this scoring"
            )
        if not np.isfinite(row["expected_roc_auc"]):
            raise InputError(f"{target}: the model's training run has no backtest ROC-AUC to compare with")
    result.recommendation = performance_recommendation(result, config)
    return result


def performance_recommendation(result: PerformanceResult, config: MonitoringConfig) -> Recommendation:
    """retrain when a ROC-AUC fell more than the tolerance below the backtest; watch when it fell more than
    `watch_fraction` of it, or when calibration (ECE) got worse by more than `calibration_tolerance`."""
    failures, warnings = [], []
    for target in result.targets:
        row = result.overall(target)
        drop = row["expected_roc_auc"] - row["roc_auc"]
        said = f"{target} ROC-AUC {row['roc_auc']:.3f} vs backtest {row['expected_roc_auc']:.3f}"
        if drop > config.performance_tolerance:
            failures.append(f"{said}: {drop:.3f} below, more than the tolerance {config.performance_tolerance:.3f}")
        elif drop > config.watch_fraction * config.performance_tolerance:
            warnings.append(f"{said}: {drop:.3f} below")
        worse = row["ece"] - row["expected_ece"]
        if np.isfinite(worse) and worse > config.calibration_tolerance:
            warnings.append(f"{target} calibration error {row['ece']:.3f} vs backtest {row['expected_ece']:.3f}")
    return recommend(failures, warnings, "realized ROC-AUC and calibration are within tolerance of the backtest")
