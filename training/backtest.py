"""Backtest metrics and the simple baselines every model is judged against, on the same rows.

Baselines: for deactivation risk, the recency rule (days since last activity divided by the partner's
usual gap between active days) and a logistic regression on recency, frequency and money; for upgrade
potential, the same logistic regression (with tenure) and a revenue-momentum rule. On generated data the
oracle (the generator's own latent hazard) is scored too. For deactivation risk the BG/NBD buy-till-you-die
model (`training/btyd.py`) on sale days is scored as well: the model purchase-only data is classically
judged by. Scores that are not probabilities (the rules)
get ranking metrics only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from partner_churn.config import Config
from partner_churn.domain import (
    ACTIVE_DAYS_30,
    LABEL_OF,
    LAST_ACTIVITY,
    Target,
    active_days_feature,
    count_feature,
    revenue_feature,
    trend_feature,
    window_nearest,
)

TOP_SHARE = 0.10
PROBABILITY_SCORERS = {"model", "logistic_rfm", "btyd", "oracle"}
METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "precision_top10", "recall_top10", "revenue_share_top10")


def rfm_matrix(rows: pd.DataFrame, config: Config) -> np.ndarray:
    """Recency, frequency, money (and tenure) for the logistic baseline, with missing recency as 'long ago'.

    Frequency counts the qualifying events and money the revenue in every configured window, so the
    baseline fits any windows and any vocabulary."""
    recency = rows[LAST_ACTIVITY].fillna(10_000.0).to_numpy(float)
    qualifying = config.labels.qualifying_event_types
    columns = [np.log1p(recency), rows[ACTIVE_DAYS_30].to_numpy(float), rows[active_days_feature(90)].to_numpy(float)]
    for w in config.features.windows_days:
        frequency = sum(rows[count_feature(t, w)].to_numpy(float) for t in qualifying)
        columns += [np.log1p(frequency), np.log1p(rows[revenue_feature(w)].to_numpy(float))]
    columns.append(rows["tenure_days"].to_numpy(float) / 365.0)
    return np.column_stack(columns)


def fit_logistic_rfm(train: pd.DataFrame, target: Target, config: Config):  # noqa: ANN201 - sklearn Pipeline
    """Logistic regression on recency/frequency/money, fitted on the training rows."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000, random_state=config.training.seed))
    return model.fit(rfm_matrix(train, config), train[LABEL_OF[target]].to_numpy(int))


def recency_rule(rows: pd.DataFrame, usual_gap: float) -> np.ndarray:
    """Days since last activity over the partner's usual gap (the program's median gap when it has none)."""
    gap = rows["active_day_gap_mean"].fillna(usual_gap).clip(lower=1.0)
    return (rows[LAST_ACTIVITY].fillna(10_000.0) / gap).to_numpy(float)


def revenue_momentum(rows: pd.DataFrame, config: Config) -> np.ndarray:
    """Recent revenue times (1 + its trend): who is earning more, faster (the window nearest the trend's)."""
    window = window_nearest(config, config.features.trend_window_days)
    return (rows[revenue_feature(window)] * (1 + rows[trend_feature("revenue", config)])).to_numpy(float)


def baseline_scores(target: Target, train: pd.DataFrame, rows: pd.DataFrame, config: Config) -> dict[str, np.ndarray]:
    """Every baseline's score for `rows`, fitted (where a baseline learns) on `train` only."""
    logistic = fit_logistic_rfm(train, target, config)
    scores = {"logistic_rfm": logistic.predict_proba(rfm_matrix(rows, config))[:, 1]}
    if target == "deactivation_risk":
        usual_gap = float(train["active_day_gap_mean"].median()) if train["active_day_gap_mean"].notna().any() else 7.0
        scores["recency_rule"] = recency_rule(rows, usual_gap)
    else:
        scores["revenue_momentum"] = revenue_momentum(rows, config)
    return scores


def expected_calibration_error(label: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Share-weighted mean |observed rate - mean score| over equal-width score bins."""
    which = np.minimum((probability * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(label[in_bin].mean() - probability[in_bin].mean())
    return float(total)


def score_metrics(label: np.ndarray, score: np.ndarray, revenue: np.ndarray, *, probability: bool) -> dict[str, float]:
    """Ranking metrics for any score; calibration metrics for probabilities; top-10% precision, recall, revenue."""
    label = np.asarray(label, int)
    score = np.asarray(score, float)
    out = {name: np.nan for name in METRICS}
    if label.size == 0:
        return out
    n_top = max(1, int(np.ceil(TOP_SHARE * label.size)))
    top = np.argsort(-score, kind="stable")[:n_top]
    positives = label.sum()
    out["precision_top10"] = float(label[top].mean())
    out["recall_top10"] = float(label[top].sum() / positives) if positives else np.nan
    revenue = np.nan_to_num(np.asarray(revenue, float))
    out["revenue_share_top10"] = float(revenue[top].sum() / revenue.sum()) if revenue.sum() > 0 else np.nan
    if 0 < positives < label.size:
        out["roc_auc"] = float(roc_auc_score(label, score))
        out["pr_auc"] = float(average_precision_score(label, score))
    if probability:
        clipped = np.clip(score, 1e-6, 1 - 1e-6)
        out["brier"] = float(brier_score_loss(label, clipped))
        out["log_loss"] = float(log_loss(label, clipped, labels=[0, 1]))
        out["ece"] = expected_calibration_error(label, score)
    return out


def backtest_table(predictions: pd.DataFrame, scorers: list[str]) -> pd.DataFrame:
    """Metrics per target, scorer and cutoff (each and 'all'), and per segment over all cutoffs."""
    records = []
    for target, by_target in predictions.groupby("target", sort=False):
        groups: list[tuple[str, str, pd.DataFrame]] = [("all", "all", by_target)]
        groups += [(str(pd.Timestamp(cutoff).date()), "all", rows) for cutoff, rows in by_target.groupby("as_of")]
        groups += [("all", str(segment), rows) for segment, rows in by_target.groupby("segment")]
        for cutoff, segment, rows in groups:
            for scorer in scorers:
                if scorer not in rows or rows[scorer].isna().all():
                    continue
                metrics = score_metrics(
                    rows["label"].to_numpy(), rows[scorer].to_numpy(), rows["revenue_next_horizon"].to_numpy(),
                    probability=scorer in PROBABILITY_SCORERS,
                )
                records.append(
                    {"target": target, "scorer": scorer, "cutoff": cutoff, "segment": segment,
                     "rows": len(rows), "positives": int(rows["label"].sum()), **metrics}
                )
    return pd.DataFrame.from_records(records)


def headline(table: pd.DataFrame, target: str, scorer: str, metric: str = "roc_auc") -> float:
    """One metric over all backtest cutoffs and segments."""
    row = table[(table["target"] == target) & (table["scorer"] == scorer) & (table["cutoff"] == "all") & (table["segment"] == "all")]
    return float(row[metric].iloc[0]) if len(row) else float("nan")
